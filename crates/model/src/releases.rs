//! Releases and their deploys.

use serde::{Deserialize, Serialize};

use crate::UnixTime;

/// A version of the code, as `sentry-cli releases new` and events' `release` name it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub id: i64,
    pub organization_id: i64,
    pub version: String,
    /// The VCS reference (`ref` in Sentry's API).
    pub reference: Option<String>,
    pub url: Option<String>,
    pub date_created: UnixTime,
    pub date_started: Option<UnixTime>,
    pub date_released: Option<UnixTime>,
    /// Timestamps of the oldest and newest events with this release.
    pub first_event: Option<UnixTime>,
    pub last_event: Option<UnixTime>,
    /// Issues first seen with this release, over all its projects.
    pub new_groups: i64,
    /// `(project_id, new_groups)` of each project the release belongs to, by project id.
    pub projects: Vec<(i64, i64)>,
    pub deploy_count: i64,
    pub last_deploy: Option<Deploy>,
    /// `open`, or `archived` (hidden from release lists unless asked for, as in Sentry).
    pub status: String,
}

/// The statuses a release can have, as Sentry's API names them.
pub const RELEASE_STATUSES: [&str; 2] = ["open", "archived"];

/// What a create or update of a release sets; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReleaseFields {
    pub reference: Option<String>,
    pub url: Option<String>,
    pub date_started: Option<UnixTime>,
    pub date_released: Option<UnixTime>,
    /// One of [`RELEASE_STATUSES`]; a new release is `open`.
    pub status: Option<String>,
}

/// A release going out to an environment (`sentry-cli deploys new`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deploy {
    pub id: i64,
    pub release_id: i64,
    pub environment: String,
    pub name: Option<String>,
    pub url: Option<String>,
    pub date_started: Option<UnixTime>,
    pub date_finished: UnixTime,
}

/// A deploy to record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewDeploy {
    pub environment: String,
    pub name: Option<String>,
    pub url: Option<String>,
    pub date_started: Option<UnixTime>,
    /// Defaults to now when absent.
    pub date_finished: Option<UnixTime>,
}

/// Which releases a list covers: an organization's, newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReleaseQuery {
    pub organization_id: i64,
    /// Only releases linked to this project.
    pub project_id: Option<i64>,
    /// Only versions containing this text (case-insensitively).
    pub query: Option<String>,
    /// Only releases with this status (Sentry lists `open` ones unless asked).
    pub status: Option<String>,
    pub offset: u64,
    pub limit: u64,
}
