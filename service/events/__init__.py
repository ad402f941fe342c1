"""Live events: each open tab learns of a change at once, and reminders arrive on time, once.

    a write ──commit──▶ NOTIFY task_api_changes "revision:user_id"   (a trigger on the counter, 0008)
    scheduler ─claim + NOTIFY task_api_reminders, one transaction──┘   (scheduler.py, any instance)
                                   │
            each process: one LISTEN connection (listener.py)
                                   │
               the Hub: this process's streams, by user (hub.py)
                                   │
                  GET /api/{user_id}/events (controller.py)

PostgreSQL is the broker: a notification is delivered to every listening process when the
transaction that sent it commits, so nothing is announced that did not happen, whichever
instance wrote it.
"""
