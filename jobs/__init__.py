"""Background job functions and the RQ worker.

Each job is enqueued by dotted name with ids (``"jobs.emails.send_email"``),
runs inside an app context made by whoever runs it (the RQ worker's job class,
or the in-process runner of ``webapp.jobqueue``) and calls the same services
as the routes. Every job re-reads its row and skips what is done, so running
one twice is harmless.
"""
