//! Organizations, users, memberships, projects, keys and tokens.
