//! Organizations, projects and DSN keys as Sentry's API shows them.

use serde_json::{json, Value};
use vigil_protocol::dsn::Dsn;
use vigil_store::{InboundFilters, Organization, Project, ProjectKey, ScrubbingSettings};

use super::iso;
use crate::config::ServerConfig;

/// sentry-cli refuses an organization lacking any of the first eight fields.
pub fn serialize_organization(org: &Organization) -> Value {
    json!({
        "id": org.id.to_string(),
        "slug": org.slug,
        "name": org.name,
        "dateCreated": iso(org.date_created),
        "isEarlyAdopter": false,
        "require2FA": false,
        "requireEmailVerification": false,
        "features": [],
        "status": {"id": "active", "name": "active"},
        "avatar": {"avatarType": "letter_avatar", "avatarUuid": null},
        "links": {"organizationUrl": "", "regionUrl": ""},
        "hasAuthProvider": false,
    })
}

pub fn serialize_project(project: &Project, org: &Organization) -> Value {
    json!({
        "id": project.id.to_string(),
        "slug": project.slug,
        "name": project.name,
        "platform": project.platform,
        "dateCreated": iso(project.date_created),
        "isBookmarked": false,
        "isMember": true,
        "hasAccess": true,
        "isPublic": false,
        "features": [],
        "status": "active",
        "team": null,
        "teams": [],
        "organization": serialize_organization(org),
    })
}

/// One project as Sentry's `DetailedProjectSerializer` shows it (`GET` and `PUT
/// /api/0/projects/{org}/{project}/`): the list's shape and the project's settings, of which
/// Vigil keeps the data-scrubbing ones and, in `options`, the inbound filters set there.
pub fn serialize_project_details(
    project: &Project,
    org: &Organization,
    scrubbing: &ScrubbingSettings,
    filters: &InboundFilters,
) -> Value {
    let mut value = serialize_project(project, org);
    if let Value::Object(fields) = &mut value {
        fields.extend([
            ("dataScrubber".into(), json!(scrubbing.data_scrubber)),
            (
                "dataScrubberDefaults".into(),
                json!(scrubbing.data_scrubber_defaults),
            ),
            (
                "scrubIPAddresses".into(),
                json!(scrubbing.scrub_ip_addresses),
            ),
            ("sensitiveFields".into(), json!(scrubbing.sensitive_fields)),
            ("safeFields".into(), json!(scrubbing.safe_fields)),
            ("relayPiiConfig".into(), json!(scrubbing.relay_pii_config)),
            ("options".into(), project_options(filters)),
        ]);
    }
    value
}

/// The project options Vigil keeps, as Sentry's serializer spells them: the custom filters one
/// entry per line, the generic filters as booleans.
fn project_options(filters: &InboundFilters) -> Value {
    json!({
        "filters:blacklisted_ips": filters.blacklisted_ips.join("\n"),
        "filters:releases": filters.releases.join("\n"),
        "filters:error_messages": filters.error_messages.join("\n"),
        "filters:react-hydration-errors": filters.react_hydration_errors,
        "filters:chunk-load-error": filters.chunk_load_error,
        "sentry:csp_ignored_sources_defaults": filters.csp_ignored_sources_defaults,
        "sentry:csp_ignored_sources": filters.csp_ignored_sources.join("\n"),
    })
}

pub fn serialize_key(key: &ProjectKey, config: &ServerConfig) -> Value {
    let base = config.base_url();
    let dsn = Dsn::new(&config.public_url, &key.public_key, key.project_id).to_string();
    let secret_dsn = dsn.replacen('@', &format!(":{}@", key.secret_key), 1);
    let id = key.project_id;
    let k = &key.public_key;
    json!({
        "id": key.public_key,
        "name": key.label,
        "label": key.label,
        "public": key.public_key,
        "secret": key.secret_key,
        "projectId": key.project_id,
        "isActive": key.is_active,
        "rateLimit": key.rate_limit.map(|l| json!({"window": l.window_secs, "count": l.count})),
        "dsn": {
            "public": dsn,
            "secret": secret_dsn,
            "csp": format!("{base}/api/{id}/csp-report/?sentry_key={k}"),
            "security": format!("{base}/api/{id}/security/?sentry_key={k}"),
            "minidump": format!("{base}/api/{id}/minidump/?sentry_key={k}"),
            "nel": format!("{base}/api/{id}/nel/?sentry_key={k}"),
            "unreal": format!("{base}/api/{id}/unreal/{k}/"),
            "cdn": null,
            "crons": format!("{base}/api/{id}/cron/___MONITOR_SLUG___/{k}/"),
            "otlp_traces": format!("{base}/api/{id}/otlp/v1/traces"),
        },
        "browserSdkVersion": "latest",
        "browserSdk": {"choices": [["latest", "latest"]]},
        "dateCreated": iso(key.date_created),
        "dynamicSdkLoaderOptions": {"hasReplay": false, "hasPerformance": false, "hasDebug": false},
    })
}
