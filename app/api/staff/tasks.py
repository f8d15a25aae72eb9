"""Staff REST: the task inbox, claim, unclaim and complete."""
from flask import g, request
from flask_appbuilder.api import expose, protect

from ...models.workflow import utcnow
from ...services import staff_requests
from ...workflows import tasks
from ..base import KabinetApi
from . import requests_messages  # noqa: F401  (the reassign refusals' texts)
from .requests_schemas import ReassignSchema
from .schemas import CompleteSchema, HumanTaskSchema

complete_schema = CompleteSchema()
task_schema = HumanTaskSchema()  # one instance: building a schema costs more than dumping a row


def current_worker():
    user = g.user
    roles = [role.name for role in user.roles]
    return tasks.Worker(user.username, roles, is_admin="Admin" in roles)


def dump_task(task):
    task.overdue = bool(task.status == "open" and task.due_at and task.due_at < utcnow())
    return task_schema.dump(task)


def _flag(name):
    return request.args.get(name, "").lower() in ("1", "true", "yes")


class TasksApi(KabinetApi):
    resource_name = "tasks"
    route_base = "/api/v1/tasks"
    class_permission_name = "Tasks"
    method_permission_name = {"inbox": "read", "show": "read", "claim": "write", "unclaim": "write",
                              "complete": "write", "reassign": "write"}
    openapi_spec_tag = "Tasks"
    openapi_spec_component_schemas = (CompleteSchema, ReassignSchema)

    @expose("/", methods=["GET"])
    @protect()
    def inbox(self):
        """The caller's inbox: open tasks of the caller's roles.
        ---
        get:
          summary: Inbox
          parameters:
          - {in: query, name: mine, schema: {type: boolean}, description: only tasks I claimed}
          - {in: query, name: unassigned, schema: {type: boolean}, description: only unclaimed tasks}
          - {in: query, name: process_key, schema: {type: string}}
          - {in: query, name: overdue, schema: {type: boolean}}
          - {in: query, name: page, schema: {type: integer, minimum: 0}}
          - {in: query, name: page_size, schema: {type: integer, minimum: 1, maximum: 100}}
          responses:
            200: {description: A page of tasks, earliest due first}
        """
        page, page_size = self.page_args()
        rows, total = tasks.inbox(current_worker(), mine=_flag("mine"), unassigned=_flag("unassigned"),
                                  process_key=request.args.get("process_key"), overdue=_flag("overdue"),
                                  page=page, page_size=page_size)
        return self.response(200, result=[dump_task(t) for t in rows], count=total, page=page, page_size=page_size)

    @expose("/<int:task_id>", methods=["GET"])
    @protect()
    def show(self, task_id):
        """One task with its form schema.
        ---
        get:
          summary: A task
          parameters:
          - {in: path, name: task_id, required: true, schema: {type: integer}}
          responses:
            200:
              content: {application/json: {schema: {$ref: '#/components/schemas/HumanTaskSchema'}}}
            404: {description: No such task among the caller's}
        """
        return self.response(200, **dump_task(tasks.get(task_id, current_worker())))

    @expose("/<int:task_id>/claim", methods=["POST"])
    @protect()
    def claim(self, task_id):
        """Claim a task for the caller.
        ---
        post:
          summary: Claim
          parameters:
          - {in: path, name: task_id, required: true, schema: {type: integer}}
          responses:
            200: {description: The claimed task}
            404: {description: No such task among the caller's}
            409: {description: Claimed by someone else, or no longer open}
        """
        return self.response(200, **dump_task(tasks.claim(task_id, current_worker())))

    @expose("/<int:task_id>/unclaim", methods=["POST"])
    @protect()
    def unclaim(self, task_id):
        """Hand a claimed task back to the role's pool.
        ---
        post:
          summary: Unclaim
          parameters:
          - {in: path, name: task_id, required: true, schema: {type: integer}}
          responses:
            200: {description: The task, unassigned}
            409: {description: Not claimed, or claimed by someone else}
        """
        return self.response(200, **dump_task(tasks.unclaim(task_id, current_worker())))

    @expose("/<int:task_id>/reassign", methods=["POST"])
    @protect()
    def reassign(self, task_id):
        """Hand a task to another staff user who holds its role; the task's assignee or an
        admin may. Handing it back to the role's pool is ``unclaim``.
        ---
        post:
          summary: Reassign
          parameters:
          - {in: path, name: task_id, required: true, schema: {type: integer}}
          requestBody:
            required: true
            content:
              application/json:
                schema: {$ref: '#/components/schemas/ReassignSchema'}
          responses:
            200: {description: The task, assigned to the new user}
            403: {description: 'Not the assignee nor an admin (task_reassign_forbidden), or a task of the customer'}
            404: {description: No such task among the caller's}
            409:
              description: >-
                No such active user (task_reassign_unknown_user), the user lacks the task's role
                (task_reassign_role), it is theirs already (task_reassign_same), or the task is no
                longer open (task_not_open)
            422: {description: The field to is missing}
        """
        payload = ReassignSchema().load(self.json_body())
        target = staff_requests.staff_worker(payload["to"])
        return self.response(200, **dump_task(tasks.reassign(task_id, current_worker(), target)))

    @expose("/<int:task_id>/complete", methods=["POST"])
    @protect()
    def complete(self, task_id):
        """Complete a task with data validated against its JSON Schema form.
        ---
        post:
          summary: Complete
          parameters:
          - {in: path, name: task_id, required: true, schema: {type: integer}}
          requestBody:
            content:
              application/json:
                schema: {$ref: '#/components/schemas/CompleteSchema'}
          responses:
            200: {description: The completed task}
            404: {description: No such task among the caller's}
            409: {description: Already completed, or claimed by someone else}
            422: {description: The data fails the form; field errors in error.fields}
        """
        payload = complete_schema.load(self.json_body())
        return self.response(200, **dump_task(tasks.complete(task_id, current_worker(), payload["data"])))
