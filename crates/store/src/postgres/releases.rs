//! Releases and deploys: those `sentry-cli` creates, and those events name.

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::types::ToSql;

use super::error::DbContext;
use super::now;
use super::sql::{self, get, sql_int, Pipeline};
use super::PgStore;
use crate::batch::ReleaseTally;
use crate::shared::{substring_pattern, DEPLOY_COLUMNS, RELEASE_COLUMNS};
use crate::Releases;
use crate::{Deploy, NewDeploy, Release, ReleaseFields, ReleaseQuery, StoreResult};

/// One release with its projects and deploys filled in.
async fn load(tx: &Transaction<'_>, release_id: i64) -> StoreResult<Release> {
    let release = sql::record(
        tx,
        &format!("SELECT {RELEASE_COLUMNS} FROM releases WHERE id = $1"),
        &[&release_id],
        "reading a release",
    )
    .await?;
    complete(tx, release).await
}

/// The release with its projects and deploys filled in.
async fn complete<C: GenericClient>(client: &C, mut release: Release) -> StoreResult<Release> {
    let id = release.id;
    let params: [&(dyn ToSql + Sync); 1] = [&id];
    let last_deploy_sql = format!(
        "SELECT {DEPLOY_COLUMNS} FROM deploys WHERE release_id = $1
         ORDER BY date_finished DESC, id DESC LIMIT 1"
    );
    let projects = sql::records(
        client,
        "SELECT project_id, new_groups FROM release_projects WHERE release_id = $1
         ORDER BY project_id",
        &params,
        "reading release projects",
    );
    let deploys = sql::query_one(
        client,
        "SELECT count(*) FROM deploys WHERE release_id = $1",
        &params,
        "counting deploys",
    );
    let last = sql::record_opt(client, &last_deploy_sql, &params, "reading the last deploy");
    // Pipelined: three statements, one round trip.
    let (projects, deploys, last) = futures_util::try_join!(projects, deploys, last)?;
    release.projects = projects;
    release.new_groups = release.projects.iter().map(|(_, n)| n).sum();
    release.deploy_count = get(&deploys, 0)?;
    release.last_deploy = last;
    Ok(release)
}

impl<'a> ReleaseTally<'a> {
    /// The batch's release rows, for [`ReleaseRows::push`].
    pub(crate) fn rows(&self) -> ReleaseRows<'a> {
        let mut rows = ReleaseRows {
            created: now(),
            ..ReleaseRows::default()
        };
        for ((project_id, version), (first, last, new)) in &self.seen {
            rows.project_ids.push(*project_id);
            rows.versions.push(*version);
            rows.firsts.push(*first);
            rows.lasts.push(*last);
            rows.new_groups.push(*new);
        }
        rows
    }
}

/// A batch's releases as columns, ordered by `(project_id, version)`.
#[derive(Default)]
pub(crate) struct ReleaseRows<'a> {
    created: f64,
    project_ids: Vec<i64>,
    versions: Vec<&'a str>,
    firsts: Vec<f64>,
    lasts: Vec<f64>,
    new_groups: Vec<i64>,
}

impl ReleaseRows<'_> {
    /// Adds the two statements that create the releases events named, link them to their
    /// projects and move their first/last event times and new-issue counts. Rows are upserted
    /// in key order, so concurrent batches lock them in the same order.
    pub(crate) fn push<'p>(&'p self, pipeline: &mut Pipeline<'p>) {
        if self.project_ids.is_empty() {
            return;
        }
        // Two projects of one organization may name the same version: one row per release.
        pipeline.push(
            "INSERT INTO releases (organization_id, version, date_created, first_event, last_event)
             SELECT p.organization_id, u.version, $5, min(u.first), max(u.last)
             FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::DOUBLE PRECISION[],
                         $4::DOUBLE PRECISION[]) AS u(project_id, version, first, last)
             JOIN projects p ON p.id = u.project_id
             GROUP BY p.organization_id, u.version
             ORDER BY p.organization_id, u.version
             ON CONFLICT (organization_id, version) DO UPDATE SET
                 first_event = LEAST(coalesce(releases.first_event, excluded.first_event),
                                     excluded.first_event),
                 last_event = GREATEST(coalesce(releases.last_event, excluded.last_event),
                                       excluded.last_event)",
            vec![
                &self.project_ids,
                &self.versions,
                &self.firsts,
                &self.lasts,
                &self.created,
            ],
            "recording releases of events",
        );
        pipeline.push(
            "INSERT INTO release_projects (release_id, project_id, new_groups)
             SELECT r.id, u.project_id, u.new_groups
             FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::BIGINT[])
                  AS u(project_id, version, new_groups)
             JOIN projects p ON p.id = u.project_id
             JOIN releases r ON r.organization_id = p.organization_id AND r.version = u.version
             ORDER BY r.id, u.project_id
             ON CONFLICT (release_id, project_id) DO UPDATE SET
                 new_groups = release_projects.new_groups + excluded.new_groups",
            vec![&self.project_ids, &self.versions, &self.new_groups],
            "recording releases of events",
        );
    }
}

#[async_trait]
impl Releases for PgStore {
    /// One upsert statement rather than a read and an insert, so two nodes creating the same
    /// release at once make one (`xmax = 0` tells a row this statement inserted from one it
    /// updated).
    async fn upsert_release(
        &self,
        organization_id: i64,
        version: &str,
        project_ids: &[i64],
        fields: &ReleaseFields,
    ) -> StoreResult<(Release, bool)> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.db("saving a release")?;
        let (release_id, created): (i64, bool) = sql::record(
            &tx,
            "INSERT INTO releases (organization_id, version, reference, url, date_created,
                 date_started, date_released, status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8, 'open'))
             ON CONFLICT (organization_id, version) DO UPDATE SET
                 reference = coalesce(excluded.reference, releases.reference),
                 url = coalesce(excluded.url, releases.url),
                 date_started = coalesce(excluded.date_started, releases.date_started),
                 date_released = coalesce(excluded.date_released, releases.date_released),
                 status = coalesce($8, releases.status)
             RETURNING id, xmax = 0",
            &[
                &organization_id,
                &version,
                &fields.reference,
                &fields.url,
                &now(),
                &fields.date_started,
                &fields.date_released,
                &fields.status,
            ],
            &format!("release `{version}`"),
        )
        .await?;
        sql::execute(
            &tx,
            "INSERT INTO release_projects (release_id, project_id)
             SELECT $1, p FROM UNNEST($2::BIGINT[]) AS p ORDER BY p
             ON CONFLICT (release_id, project_id) DO NOTHING",
            &[&release_id, &project_ids],
            "adding a project to a release",
        )
        .await?;
        let release = load(&tx, release_id).await?;
        tx.commit().await.db("saving a release")?;
        Ok((release, created))
    }

    async fn release_by_version(
        &self,
        organization_id: i64,
        version: &str,
    ) -> StoreResult<Option<Release>> {
        let client = self.client().await?;
        let release = sql::record_opt(
            &client,
            &format!(
                "SELECT {RELEASE_COLUMNS} FROM releases WHERE organization_id = $1 AND version = $2"
            ),
            &[&organization_id, &version],
            "reading a release",
        )
        .await?;
        match release {
            Some(release) => Ok(Some(complete(&client, release).await?)),
            None => Ok(None),
        }
    }

    /// `query` matches a substring of the version, case-insensitively (`ILIKE`; SQLite's `LIKE`
    /// folds ASCII letters the same way).
    async fn list_releases(&self, query: &ReleaseQuery) -> StoreResult<Vec<Release>> {
        let client = self.client().await?;
        let pattern = substring_pattern(query.query.as_deref());
        let releases: Vec<Release> = sql::records(
            &client,
            &format!(
                "SELECT {RELEASE_COLUMNS} FROM releases r
                 WHERE organization_id = $1
                   AND ($2::BIGINT IS NULL OR EXISTS (SELECT 1 FROM release_projects rp
                                              WHERE rp.release_id = r.id AND rp.project_id = $2))
                   AND ($3::TEXT IS NULL OR version ILIKE $3 ESCAPE '\\')
                   AND ($6::TEXT IS NULL OR status = $6)
                 ORDER BY date_created DESC, id DESC LIMIT $4 OFFSET $5"
            ),
            &[
                &query.organization_id,
                &query.project_id,
                &pattern,
                &sql_int(query.limit),
                &sql_int(query.offset),
                &query.status,
            ],
            "listing releases",
        )
        .await?;
        let mut completed = Vec::with_capacity(releases.len());
        for release in releases {
            completed.push(complete(&client, release).await?);
        }
        Ok(completed)
    }

    async fn delete_release(&self, organization_id: i64, version: &str) -> StoreResult<bool> {
        let changed = sql::execute(
            &self.client().await?,
            "DELETE FROM releases WHERE organization_id = $1 AND version = $2",
            &[&organization_id, &version],
            "deleting a release",
        )
        .await?;
        Ok(changed > 0)
    }

    async fn create_deploy(&self, release_id: i64, deploy: &NewDeploy) -> StoreResult<Deploy> {
        sql::record(
            &self.client().await?,
            &format!(
                "INSERT INTO deploys (release_id, environment, name, url, date_started, date_finished)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING {DEPLOY_COLUMNS}"
            ),
            &[
                &release_id,
                &deploy.environment,
                &deploy.name,
                &deploy.url,
                &deploy.date_started,
                &deploy.date_finished.unwrap_or_else(now),
            ],
            "recording a deploy",
        )
        .await
    }

    async fn list_deploys(&self, release_id: i64) -> StoreResult<Vec<Deploy>> {
        sql::records(
            &self.client().await?,
            &format!(
                "SELECT {DEPLOY_COLUMNS} FROM deploys WHERE release_id = $1
                 ORDER BY date_finished DESC, id DESC"
            ),
            &[&release_id],
            "listing deploys",
        )
        .await
    }
}
