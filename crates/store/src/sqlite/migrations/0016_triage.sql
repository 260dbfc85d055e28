-- Triage (issue 16): who an issue is assigned to, the conditions of an ignore, whether it was
-- reviewed, and what each user marked on it.

-- The user the issue is assigned to (Sentry's GroupAssignee); NULL: unassigned.
ALTER TABLE issues ADD COLUMN assignee_id INTEGER;
-- Sentry's GroupSnooze conditions besides `ignored_until`: ignored until `ignore_count` more
-- events (within `ignore_window` minutes when set) or `ignore_user_count` more users (within
-- `ignore_user_window` minutes). The baselines are the counts when it was ignored.
ALTER TABLE issues ADD COLUMN ignore_count INTEGER;
ALTER TABLE issues ADD COLUMN ignore_window INTEGER;
ALTER TABLE issues ADD COLUMN ignore_user_count INTEGER;
ALTER TABLE issues ADD COLUMN ignore_user_window INTEGER;
ALTER TABLE issues ADD COLUMN ignore_times_seen INTEGER;
ALTER TABLE issues ADD COLUMN ignore_users_seen INTEGER;
-- When someone marked it reviewed (Sentry's inbox: `inbox: false`); NULL: for review.
ALTER TABLE issues ADD COLUMN reviewed_at REAL;
CREATE INDEX issues_assignee ON issues (assignee_id, last_seen) WHERE assignee_id IS NOT NULL;

-- What one user marked on one issue: a bookmark (GroupBookmark), a subscription
-- (GroupSubscription: NULL unset, 1 subscribed with `subscription_reason`, 0 unsubscribed) and
-- when the user last saw it (GroupSeen).
CREATE TABLE issue_user_states (
    issue_id            INTEGER NOT NULL,
    user_id             INTEGER NOT NULL,
    bookmarked          INTEGER NOT NULL DEFAULT 0,
    subscribed          INTEGER,
    subscription_reason TEXT,
    seen_at             REAL,
    PRIMARY KEY (issue_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX issue_user_states_user ON issue_user_states (user_id, issue_id);
