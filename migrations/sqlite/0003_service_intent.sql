-- What the operator wants of each service (issue 16), and the maintenance marker of the
-- command working on it. Numbered 0003: 0002 is kept free for a parallel change.
--
-- desired: 'running' | 'stopped' | 'absent', NULL when only a maintenance marker was ever
-- recorded (a legacy install: the rule of docs/jobs.md applies).
-- maint_*: set while `service backup|restore|upgrade` works on the service (which command,
-- its process id and host, since when); NULL otherwise.
CREATE TABLE service_intent (
    service        TEXT    PRIMARY KEY NOT NULL,
    desired        TEXT,
    command        TEXT    NOT NULL DEFAULT '',
    updated_at     INTEGER NOT NULL,
    maint_command  TEXT,
    maint_pid      INTEGER,
    maint_host     TEXT,
    maint_since    INTEGER
);
