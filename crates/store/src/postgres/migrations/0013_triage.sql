-- Triage (issue 16): who an issue is assigned to, the conditions of an ignore, whether it was
-- reviewed, and what each user marked on it.

-- The user the issue is assigned to (Sentry's GroupAssignee); NULL: unassigned.
ALTER TABLE issues ADD COLUMN assignee_id BIGINT;
-- Sentry's GroupSnooze conditions besides `ignored_until`: ignored until `ignore_count` more
-- events (within `ignore_window` minutes when set) or `ignore_user_count` more users (within
-- `ignore_user_window` minutes). The baselines are the counts when it was ignored.
ALTER TABLE issues ADD COLUMN ignore_count BIGINT;
ALTER TABLE issues ADD COLUMN ignore_window BIGINT;
ALTER TABLE issues ADD COLUMN ignore_user_count BIGINT;
ALTER TABLE issues ADD COLUMN ignore_user_window BIGINT;
ALTER TABLE issues ADD COLUMN ignore_times_seen BIGINT;
ALTER TABLE issues ADD COLUMN ignore_users_seen BIGINT;
-- When someone marked it reviewed (Sentry's inbox: `inbox: false`); NULL: for review.
ALTER TABLE issues ADD COLUMN reviewed_at DOUBLE PRECISION;
CREATE INDEX issues_assignee ON issues (assignee_id, last_seen) WHERE assignee_id IS NOT NULL;

-- What one user marked on one issue: a bookmark (GroupBookmark), a subscription
-- (GroupSubscription: NULL unset, true subscribed with `subscription_reason`, false unsubscribed) and
-- when the user last saw it (GroupSeen).
CREATE TABLE issue_user_states (
    issue_id            BIGINT  NOT NULL,
    user_id             BIGINT  NOT NULL,
    bookmarked          BOOLEAN NOT NULL DEFAULT FALSE,
    subscribed          BOOLEAN,
    subscription_reason TEXT,
    seen_at             DOUBLE PRECISION,
    PRIMARY KEY (issue_id, user_id)
);
CREATE INDEX issue_user_states_user ON issue_user_states (user_id, issue_id);
