//! Projects of an organization: the list, creating one, and a project's page, which doubles as
//! onboarding: its DSN, the SDK setup snippets with that DSN filled in, and "waiting for the
//! first event" until an issue arrives (the page reloads itself meanwhile).

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use vigil_protocol::dsn::Dsn;
use vigil_store::{IssueQuery, IssueSort, Organization, Project};

use super::access::ViewerOrg;
use super::error::WebError;
use super::layout::{csrf_field, page, redirect_to, time_ago, Shell};
use super::session::Viewer;
use crate::serialize::issue::short_id;
use crate::time::unix_now;
use crate::AppState;

/// Platforms offered when creating a project (Sentry's platform ids).
const PLATFORMS: &[(&str, &str)] = &[
    ("python-django", "Django"),
    ("python", "Python"),
    ("node", "Node.js"),
    ("javascript", "Browser JavaScript"),
    ("rust", "Rust"),
    ("other", "Other"),
];

/// Sentry's rule for slugs: lowercase letters, digits, `-` and `_`, not only digits.
fn valid_slug(slug: &str) -> bool {
    (1..=50).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && !slug.bytes().all(|b| b.is_ascii_digit())
}

/// `GET /organizations/{org}/projects/`.
pub async fn list(
    ViewerOrg { viewer, org }: ViewerOrg,
    State(state): State<AppState>,
) -> Result<Html<String>, WebError> {
    let projects = state.store.list_projects(Some(org.id)).await?;
    Ok(list_page(&state, &viewer, &org, &projects, None, ""))
}

fn list_page(
    state: &AppState,
    viewer: &Viewer,
    org: &Organization,
    projects: &[Project],
    error: Option<&str>,
    slug: &str,
) -> Html<String> {
    let prefix = state.config.path_prefix();
    let body = html! {
        h1 { "Projects" }
        @if projects.is_empty() {
            p { "No projects yet: create one to get a DSN." }
        } @else {
            ul.project-list {
                @for p in projects {
                    li {
                        a href={ (prefix) "/organizations/" (org.slug) "/projects/" (p.slug) "/" } { (p.slug) }
                        @if let Some(platform) = &p.platform { " " span.platform { (platform) } }
                        " · " a href={ (prefix) "/organizations/" (org.slug) "/issues/?project=" (p.id) } { "issues" }
                        " · " a href={ (prefix) "/settings/" (org.slug) "/projects/" (p.slug) "/keys/" } { "keys" }
                    }
                }
            }
        }
        section.create-project {
            h2 { "Create a project" }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form method="post" action={ (prefix) "/organizations/" (org.slug) "/projects/" } {
                (csrf_field(viewer))
                label { "Name (slug)" input #project-slug type="text" name="slug" value=(slug) required
                    pattern="[a-z0-9_\\-]+" maxlength="50" placeholder="shop"; }
                label { "Platform"
                    select name="platform" {
                        @for (id, name) in PLATFORMS { option value=(id) { (name) } }
                    }
                }
                button.primary type="submit" { "Create project" }
            }
        }
    };
    page(Shell::of_org("Projects", &prefix, viewer, org), body)
}

#[derive(Debug, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    slug: String,
    platform: Option<String>,
}

/// `POST /organizations/{org}/projects/`.
pub async fn create(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(org): Path<String>,
    Form(form): Form<CreateForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let org = viewer.organization(&org)?;
    let slug = form.slug.trim().to_lowercase();
    if !valid_slug(&slug) {
        let message = "A slug is 1 to 50 lowercase letters, digits, - or _ (not only digits).";
        return refuse(&state, &viewer, &org, &slug, message).await;
    }
    let platform = form
        .platform
        .filter(|p| PLATFORMS.iter().any(|(id, _)| id == p) && p != "other");
    match state
        .store
        .create_project(org.id, &slug, platform.as_deref())
        .await
    {
        Ok((project, _key)) => {
            tracing::info!(
                project_id = project.id,
                user_id = viewer.user.id,
                "project created in the web UI"
            );
            Ok(redirect_to(
                &state,
                &format!("/organizations/{}/projects/{}/", org.slug, project.slug),
            ))
        }
        Err(vigil_store::StoreError::Conflict(_)) => {
            refuse(
                &state,
                &viewer,
                &org,
                &slug,
                &format!("There is already a project {slug:?}."),
            )
            .await
        }
        Err(err) => Err(err.into()),
    }
}

/// The projects page again, with why the project was not created.
async fn refuse(
    state: &AppState,
    viewer: &Viewer,
    org: &Organization,
    slug: &str,
    message: &str,
) -> Result<Response, WebError> {
    let projects = state.store.list_projects(Some(org.id)).await?;
    Ok((
        axum::http::StatusCode::BAD_REQUEST,
        list_page(state, viewer, org, &projects, Some(message), slug),
    )
        .into_response())
}

/// The project `{org}/{project}` if the viewer may read it.
pub async fn viewer_project(
    state: &AppState,
    viewer: &Viewer,
    org: &str,
    project: &str,
) -> Result<(Organization, Project), WebError> {
    let org = viewer.organization(org)?;
    let project = state
        .store
        .project_by_slug(org.id, project)
        .await?
        .ok_or(WebError::NotFound)?;
    Ok((org, project))
}

/// `GET /organizations/{org}/projects/{project}/`.
pub async fn detail(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project)): Path<(String, String)>,
) -> Result<Html<String>, WebError> {
    let (org, project) = viewer_project(&state, &viewer, &org, &project).await?;
    let keys = state.store.list_keys(project.id).await?;
    let dsn = keys
        .iter()
        .find(|k| k.is_active)
        .map(|k| Dsn::new(&state.config.public_url, &k.public_key, project.id).to_string());
    // The latest issues of any status: once there is one, "waiting" turns into links.
    let latest = state
        .store
        .search_issues(&IssueQuery {
            organization_id: org.id,
            project_ids: vec![project.id],
            sort: IssueSort::LastSeen,
            limit: 5,
            ..IssueQuery::default()
        })
        .await?;
    let now = unix_now();
    let prefix = state.config.path_prefix();
    let issues_url = format!(
        "{prefix}/organizations/{}/issues/?project={}",
        org.slug, project.id
    );
    let body = html! {
        div.crumbs { a href={ (prefix) "/organizations/" (org.slug) "/projects/" } { "Projects" } " / " (project.slug) }
        h1 { (project.slug) @if let Some(p) = &project.platform { " " span.platform { (p) } } }
        p {
            a href=(issues_url) { "Issues" } " · "
            a href={ (prefix) "/settings/" (org.slug) "/projects/" (project.slug) "/keys/" } { "Client keys (DSN)" }
        }
        @if latest.is_empty() {
            section.waiting role="status" {
                span.pulse {}
                strong { "Waiting for the first event…" }
                " Set up the SDK below and trigger an error; this page updates by itself."
            }
        } @else {
            section.received {
                h2 { "Latest issues" }
                ul {
                    @for issue in &latest {
                        li {
                            a.first-issue href={ (prefix) "/organizations/" (org.slug) "/issues/" (issue.id) "/" } { (issue.title) }
                            " " span.short-id { (short_id(&project, issue.short_id)) }
                            " · last seen " (time_ago(issue.last_seen, now))
                        }
                    }
                }
            }
        }
        section.onboarding {
            h2 { "DSN" }
            @match &dsn {
                Some(dsn) => { pre.dsn { code #dsn { (dsn) } } }
                None => { p.error { "This project has no active key: enable one under Client keys." } }
            }
            @if let Some(dsn) = &dsn {
                (snippets(dsn, project.platform.as_deref()))
            }
        }
    };
    Ok(page(
        Shell {
            title: &project.slug,
            prefix: &prefix,
            viewer: Some(&viewer),
            org: Some(&org),
            refresh_secs: latest.is_empty().then_some(5),
        },
        body,
    ))
}

fn snippets(dsn: &str, platform: Option<&str>) -> Markup {
    let django = format!(
        "# settings.py\n\
         import sentry_sdk\n\
         from sentry_sdk.integrations.django import DjangoIntegration\n\n\
         sentry_sdk.init(\n    \
             dsn=\"{dsn}\",\n    \
             integrations=[DjangoIntegration()],\n    \
             environment=\"production\",\n    \
             traces_sample_rate=1.0,\n    \
             send_default_pii=True,\n\
         )\n"
    );
    let node = format!(
        "// instrument.js, required before anything else\n\
         const Sentry = require(\"@sentry/node\");\n\n\
         Sentry.init({{\n  \
             dsn: \"{dsn}\",\n  \
             environment: \"production\",\n  \
             tracesSampleRate: 1.0,\n\
         }});\n"
    );
    let browser = format!(
        "import * as Sentry from \"@sentry/browser\";\n\n\
         Sentry.init({{\n  \
             dsn: \"{dsn}\",\n  \
             integrations: [Sentry.browserTracingIntegration()],\n  \
             tracesSampleRate: 1.0,\n\
         }});\n"
    );
    let rust = format!(
        "// Cargo.toml: sentry = \"0.34\"\n\
         fn main() {{\n    \
             let _guard = sentry::init((\"{dsn}\", sentry::ClientOptions {{\n        \
                 release: sentry::release_name!(),\n        \
                 ..Default::default()\n    \
             }}));\n    \
             // …\n\
         }}\n"
    );
    let mut order = vec![
        ("python", "Django (settings.py)", django),
        ("node", "Node.js", node),
        ("javascript", "Browser JavaScript", browser),
        ("rust", "Rust", rust),
    ];
    // The project's own platform first.
    if let Some(platform) = platform {
        if let Some(i) = order.iter().position(|(p, _, _)| platform.starts_with(p)) {
            let first = order.remove(i);
            order.insert(0, first);
        }
    }
    html! {
        h2 { "Set up the SDK" }
        @for (i, (id, label, code)) in order.iter().enumerate() {
            details.snippet open[i == 0] id={ "snippet-" (id) } {
                summary { (label) }
                pre { code { (code) } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_sentry_rules() {
        assert!(valid_slug("shop"));
        assert!(valid_slug("shop-api_2"));
        assert!(!valid_slug("Shop"));
        assert!(!valid_slug("123"));
        assert!(!valid_slug(""));
        assert!(!valid_slug("a b"));
    }

    #[test]
    fn snippets_carry_the_dsn_with_the_platform_first() {
        let html = snippets("http://k@h/1", Some("python-django")).into_string();
        assert!(html.contains("dsn=&quot;http://k@h/1&quot;"), "{html}");
        assert!(html.contains("DjangoIntegration()"));
        assert!(html.find("Django").unwrap_or(usize::MAX) < html.find("Node.js").unwrap_or(0));
    }
}
