"""Concurrent changes of instances, on SQLite and on PostgreSQL (the ``app`` fixture runs each
test on both): requests race from threads, each request in its own app context and session.

Every change of an instance is one locked transaction, so a race has one winner; the loser
gets a 409 and the process advances exactly once.
"""
import threading
import uuid

from tests.conftest import ApiClient
from tests.support import engine

ROUNDS = 5
MESSAGES = 20


def race(calls):
    """Run the callables at the same moment from threads; their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        try:
            results[index] = call()
        except BaseException as exc:  # surfaced by the assertions below, never swallowed
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def poster(app, username, url, body):
    """A callable posting with its own test client (its own request and app context)."""
    client = ApiClient(app, username)  # signs in now, outside the race

    def call():
        response = client.post(url, json=body)
        return response.status_code, response.get_json()

    return call


def test_two_completions_of_one_task_one_wins_and_the_process_advances_once(app):
    key = engine.deploy(app, "approval.bpmn")
    for _ in range(ROUNDS):
        started = engine.start(app, key, data={"passes": 0})
        [review] = [t for t in engine.human_tasks(app, started["id"]) if t["status"] == "open"]
        assert review["name"] == "review"
        url = f"/api/v1/tasks/{review['id']}/complete"

        outcomes = race([poster(app, "dispatcher", url, {"data": {"decision": who}})
                         for who in ("first", "second")])

        codes = sorted(code for code, _body in outcomes)
        assert codes == [200, 409], outcomes
        loser = next(body for code, body in outcomes if code == 409)
        assert loser["error"]["code"] in ("task_not_open", "concurrent_change"), loser
        winner = next(body for code, body in outcomes if code == 200)

        rows = engine.human_tasks(app, started["id"])
        assert [(t["name"], t["status"]) for t in rows] == [("review", "completed"), ("follow_up", "open")]
        kinds = [e["kind"] for e in engine.events(app, started["id"])]
        assert kinds.count("task_completed") == 1, kinds
        detail = engine.instance(app, started["id"])
        assert detail["status"] == "waiting"
        assert detail["data"]["passes"] == 1  # the script after the task ran once
        # the data that was kept is the winner's, whole
        assert detail["data"]["decision"] in ("first", "second")
        assert winner["status"] == "completed"


def test_parallel_messages_reach_each_instance_exactly_once(app):
    key = engine.deploy(app, "payment_message.bpmn")
    run = uuid.uuid4().hex[:8]
    orders = [f"order-{run}-{n}" for n in range(MESSAGES)]
    started = [engine.start(app, key, business_key=order, data={"order_id": order, "payments": 0})
               for order in orders]
    assert all(s["status"] == "waiting" for s in started)

    outcomes = race([
        poster(app, "operator", "/api/v1/messages/payment_confirmed",
               {"correlation": {"order_id": order}, "payload": {"n": n, "amount": 100 + n}})
        for n, order in enumerate(orders)
    ])

    for n, (code, body) in enumerate(outcomes):
        assert code == 200, body
        # routed to exactly the instance with these correlation values
        assert [i["id"] for i in body["instances"]] == [started[n]["id"]]
    for n, instance in enumerate(started):
        detail = engine.instance(app, instance["id"])
        assert detail["data"]["payments"] == 1
        assert detail["data"]["payment"]["n"] == n and detail["data"]["payment"]["amount"] == 100 + n
        kinds = [e["kind"] for e in engine.events(app, instance["id"])]
        assert kinds.count("message") == 1
        assert [(t["name"], t["status"]) for t in engine.human_tasks(app, instance["id"])] == [("ship", "open")]

    # a replay finds nobody waiting any more, and changes nothing
    client = ApiClient(app, "operator")
    again = client.post("/api/v1/messages/payment_confirmed",
                        json={"correlation": {"order_id": orders[0]}, "payload": {"n": 0}})
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "message_not_awaited"
    assert engine.instance(app, started[0]["id"])["data"]["payments"] == 1


def test_one_message_sent_twice_at_once_is_taken_once(app):
    key = engine.deploy(app, "payment_message.bpmn")
    for _ in range(ROUNDS):
        order = f"dup-{uuid.uuid4().hex[:8]}"
        started = engine.start(app, key, business_key=order, data={"order_id": order, "payments": 0})
        body = {"correlation": {"order_id": order}, "payload": {"n": 1}}

        outcomes = race([poster(app, "operator", "/api/v1/messages/payment_confirmed", body) for _ in range(2)])

        codes = sorted(code for code, _body in outcomes)
        assert codes == [200, 409], outcomes
        loser = next(body for code, body in outcomes if code == 409)
        assert loser["error"]["code"] in ("message_not_awaited", "concurrent_change"), loser
        assert engine.instance(app, started["id"])["data"]["payments"] == 1
        kinds = [e["kind"] for e in engine.events(app, started["id"])]
        assert kinds.count("message") == 1
