//! Sentry's page filters as a list page's URL carries them (`project=`, where `-1` is "all
//! projects"; `environment=`; `page=`), read the same way by the issue list and the performance
//! pages, and the links that change one of them.

use crate::query;

/// The selected project ids; none selects every project.
pub fn projects(pairs: &[(String, String)]) -> Vec<i64> {
    query::all(pairs, "project")
        .into_iter()
        .filter_map(|p| p.parse().ok())
        .filter(|p| *p != -1)
        .collect()
}

/// The selected environments, empty ones left out; none selects every environment.
pub fn environments(pairs: &[(String, String)]) -> Vec<String> {
    query::all(pairs, "environment")
        .into_iter()
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The page number, counted from 0 (also when missing or not a number).
pub fn page<T: std::str::FromStr + Default>(pairs: &[(String, String)]) -> T {
    query::first(pairs, "page")
        .and_then(|p| p.parse().ok())
        .unwrap_or_default()
}

/// A list page's parameters as given, to build links that change one of them.
pub trait Selection: Clone {
    /// The query string of these parameters.
    fn to_query(&self) -> String;

    /// Back to the first page: a link that changes a filter starts the list over.
    fn first_page(&mut self);

    /// `?…` of these parameters changed by `change`, on the first page.
    fn with(&self, change: impl FnOnce(&mut Self)) -> String {
        let mut changed = self.clone();
        changed.first_page();
        change(&mut changed);
        format!("?{}", changed.to_query())
    }
}
