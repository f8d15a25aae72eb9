"""Error codes of the staff side of requests and of reassigning tasks, in Russian and English."""
from ..errors import register_messages

register_messages({
    "request_status_unknown": ("Такого статуса заявки нет.", "There is no such request status."),
    "request_type_not_office": ("Этот вид заявки не оформляется в офисе.",
                                "This kind of request cannot be filed in an office."),
    "request_walk_in_name_required": ("Клиента с таким телефоном нет: укажите имя заявителя.",
                                      "No customer has this phone: give the applicant's name."),
    "request_walk_in_name_too_long": ("Имя — не длиннее {max} символов.", "The name must be at most {max} characters."),
    "request_note_empty": ("Напишите заметку.", "Write the note."),
    "request_note_too_long": ("Заметка — не длиннее {max} символов.", "The note must be at most {max} characters."),
    "task_reassign_forbidden": ("Передать задачу {id} может только её исполнитель или администратор.",
                                "Only the task's assignee or an administrator can reassign task {id}."),
    "task_reassign_unknown_user": ("Нет такого активного сотрудника: задача {id} не передана.",
                                   "There is no such active staff user: task {id} was not reassigned."),
    "task_reassign_role": ("У сотрудника {username} нет роли {role}: задачу {id} передать ему нельзя.",
                           "{username} does not have the role {role}: task {id} cannot go to them."),
    "task_reassign_same": ("Задача {id} уже у {username}.", "Task {id} is already assigned to {username}."),
})
