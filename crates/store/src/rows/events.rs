//! Events, issues and their tags.
