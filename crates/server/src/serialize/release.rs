//! Releases and deploys as Sentry's `ReleaseSerializer` shows them; sentry-cli requires
//! `version` and `dateCreated`.

use serde_json::{json, Value};
use vigil_store::{Deploy, Project, Release};

use super::iso;

pub fn serialize_deploy(deploy: &Deploy) -> Value {
    json!({
        "id": deploy.id.to_string(),
        "environment": deploy.environment,
        "name": deploy.name,
        "url": deploy.url,
        "dateStarted": deploy.date_started.map(iso),
        "dateFinished": iso(deploy.date_finished),
    })
}

/// `projects` are the release's projects that the caller can see.
pub fn serialize_release(release: &Release, projects: &[Project]) -> Value {
    let projects: Vec<Value> = release
        .projects
        .iter()
        .filter_map(|(id, new_groups)| {
            projects.iter().find(|p| p.id == *id).map(|p| {
                json!({"id": p.id, "slug": p.slug, "name": p.name, "newGroups": new_groups,
                       "platform": p.platform, "platforms": p.platform.iter().collect::<Vec<_>>(),
                       "hasHealthData": false})
            })
        })
        .collect();
    json!({
        "id": release.id,
        "version": release.version,
        "shortVersion": release.version,
        "versionInfo": {"package": null, "version": {"raw": release.version}, "description": release.version, "buildHash": null},
        "ref": release.reference,
        "url": release.url,
        "status": release.status,
        "dateCreated": iso(release.date_created),
        "dateStarted": release.date_started.map(iso),
        "dateReleased": release.date_released.map(iso),
        "firstEvent": release.first_event.map(iso),
        "lastEvent": release.last_event.map(iso),
        "newGroups": release.new_groups,
        "commitCount": 0,
        "lastCommit": null,
        "deployCount": release.deploy_count,
        "lastDeploy": release.last_deploy.as_ref().map(serialize_deploy),
        "authors": [],
        "owner": null,
        "data": {},
        "projects": projects,
        "currentProjectMeta": {},
        "userAgent": null,
    })
}
