//! Releases and deploys: those `sentry-cli` creates, and those events name.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::error::DbContext;
use super::statements::{record, record_opt, records};
use super::tally::execute_each;
use super::SqliteStore;
use super::{now, sql_int};
use crate::batch::ReleaseTally;
use crate::shared::{substring_pattern, DEPLOY_COLUMNS, RELEASE_COLUMNS};
use crate::Releases;
use crate::{Deploy, NewDeploy, Release, ReleaseFields, ReleaseQuery, StoreResult};

/// One release with its projects and deploys filled in.
fn load(conn: &Connection, release_id: i64) -> StoreResult<Release> {
    let release = record(
        conn,
        &format!("SELECT {RELEASE_COLUMNS} FROM releases WHERE id = ?1"),
        [release_id],
        "reading a release",
    )?;
    complete(conn, release)
}

/// The release with its projects and deploys filled in.
fn complete(conn: &Connection, mut release: Release) -> StoreResult<Release> {
    release.projects = records(
        conn,
        "SELECT project_id, new_groups FROM release_projects WHERE release_id = ?1
         ORDER BY project_id",
        [release.id],
        "reading release projects",
    )?;
    release.new_groups = release.projects.iter().map(|(_, n)| n).sum();
    release.deploy_count = conn
        .query_row(
            "SELECT count(*) FROM deploys WHERE release_id = ?1",
            [release.id],
            |row| row.get(0),
        )
        .db("counting deploys")?;
    release.last_deploy = record_opt(
        conn,
        &format!(
            "SELECT {DEPLOY_COLUMNS} FROM deploys WHERE release_id = ?1
             ORDER BY date_finished DESC, id DESC LIMIT 1"
        ),
        [release.id],
        "reading the last deploy",
    )?;
    Ok(release)
}

impl ReleaseTally<'_> {
    /// Creates the releases events named, links them to their projects and moves their
    /// first/last event times and new-issue counts.
    pub(crate) fn write(&self, tx: &Connection) -> StoreResult<()> {
        let mut release_stmt = tx
            .prepare_cached(
                "INSERT INTO releases (organization_id, version, date_created, first_event, last_event)
                 SELECT organization_id, ?2, ?3, ?4, ?5 FROM projects WHERE id = ?1
                 ON CONFLICT (organization_id, version) DO UPDATE SET
                     first_event = min(coalesce(first_event, excluded.first_event), excluded.first_event),
                     last_event = max(coalesce(last_event, excluded.last_event), excluded.last_event)
                 RETURNING id",
            )
            .db("recording releases of events")?;
        let mut link_stmt = tx
            .prepare_cached(
                "INSERT INTO release_projects (release_id, project_id, new_groups) VALUES (?1, ?2, ?3)
                 ON CONFLICT (release_id, project_id) DO UPDATE SET new_groups = new_groups + excluded.new_groups",
            )
            .db("recording releases of events")?;
        for ((project_id, version), (first, last, new_groups)) in &self.seen {
            let release_id: i64 = release_stmt
                .query_row(params![project_id, version, now(), first, last], |row| {
                    row.get(0)
                })
                .db("recording releases of events")?;
            link_stmt
                .execute(params![release_id, project_id, new_groups])
                .db("recording releases of events")?;
        }
        Ok(())
    }
}

#[async_trait]
impl Releases for SqliteStore {
    /// Creates or updates a release and links it to projects, in one transaction.
    async fn upsert_release(
        &self,
        organization_id: i64,
        version: &str,
        project_ids: &[i64],
        fields: &ReleaseFields,
    ) -> StoreResult<(Release, bool)> {
        let (version, project_ids, fields) =
            (version.to_owned(), project_ids.to_vec(), fields.clone());
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .db("saving a release")?;
            let existing: Option<i64> = tx
                .query_row(
                    "SELECT id FROM releases WHERE organization_id = ?1 AND version = ?2",
                    params![organization_id, version],
                    |row| row.get(0),
                )
                .optional()
                .db("reading a release")?;
            let release_id = match existing {
                Some(id) => {
                    tx.execute(
                        "UPDATE releases SET reference = coalesce(?2, reference), url = coalesce(?3, url),
                             date_started = coalesce(?4, date_started),
                             date_released = coalesce(?5, date_released),
                             status = coalesce(?6, status)
                         WHERE id = ?1",
                        params![
                            id,
                            fields.reference,
                            fields.url,
                            fields.date_started,
                            fields.date_released,
                            fields.status
                        ],
                    )
                    .db("updating a release")?;
                    id
                }
                None => tx
                    .query_row(
                        "INSERT INTO releases (organization_id, version, reference, url, date_created,
                             date_started, date_released, status)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, coalesce(?8, 'open')) RETURNING id",
                        params![
                            organization_id,
                            version,
                            fields.reference,
                            fields.url,
                            now(),
                            fields.date_started,
                            fields.date_released,
                            fields.status
                        ],
                        |row| row.get(0),
                    )
                    .db(&format!("release `{version}`"))?,
            };
            execute_each(
                &tx,
                "INSERT INTO release_projects (release_id, project_id) VALUES (?1, ?2)
                 ON CONFLICT (release_id, project_id) DO NOTHING",
                "adding a project to a release",
                project_ids.iter().map(|project_id| (release_id, project_id)),
            )?;
            let release = load(&tx, release_id)?;
            tx.commit().db("saving a release")?;
            Ok((release, existing.is_none()))
        })
        .await
    }

    async fn release_by_version(
        &self,
        organization_id: i64,
        version: &str,
    ) -> StoreResult<Option<Release>> {
        let version = version.to_owned();
        self.read(move |conn| {
            let release = record_opt(
                conn,
                &format!(
                    "SELECT {RELEASE_COLUMNS} FROM releases WHERE organization_id = ?1 AND version = ?2"
                ),
                params![organization_id, version],
                "reading a release",
            )?;
            release.map(|release| complete(conn, release)).transpose()
        })
        .await
    }

    async fn list_releases(&self, query: &ReleaseQuery) -> StoreResult<Vec<Release>> {
        let pattern = substring_pattern(query.query.as_deref());
        let query = query.clone();
        self.read(move |conn| {
            let releases: Vec<Release> = records(
                conn,
                &format!(
                    "SELECT {RELEASE_COLUMNS} FROM releases r
                     WHERE organization_id = ?1
                       AND (?2 IS NULL OR EXISTS (SELECT 1 FROM release_projects rp
                                                  WHERE rp.release_id = r.id AND rp.project_id = ?2))
                       AND (?3 IS NULL OR version LIKE ?3 ESCAPE '\\')
                       AND (?6 IS NULL OR status = ?6)
                     ORDER BY date_created DESC, id DESC LIMIT ?4 OFFSET ?5"
                ),
                params![
                    query.organization_id,
                    query.project_id,
                    pattern,
                    sql_int(query.limit),
                    sql_int(query.offset),
                    query.status
                ],
                "listing releases",
            )?;
            releases
                .into_iter()
                .map(|release| complete(conn, release))
                .collect()
        })
        .await
    }

    async fn delete_release(&self, organization_id: i64, version: &str) -> StoreResult<bool> {
        let version = version.to_owned();
        self.write(move |conn| {
            let changed = conn
                .execute(
                    "DELETE FROM releases WHERE organization_id = ?1 AND version = ?2",
                    params![organization_id, version],
                )
                .db("deleting a release")?;
            Ok(changed > 0)
        })
        .await
    }

    async fn create_deploy(&self, release_id: i64, deploy: &NewDeploy) -> StoreResult<Deploy> {
        let deploy = deploy.clone();
        self.write(move |conn| {
            record(
                conn,
                &format!(
                    "INSERT INTO deploys (release_id, environment, name, url, date_started, date_finished)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING {DEPLOY_COLUMNS}"
                ),
                params![
                    release_id,
                    deploy.environment,
                    deploy.name,
                    deploy.url,
                    deploy.date_started,
                    deploy.date_finished.unwrap_or_else(now)
                ],
                "recording a deploy",
            )
        })
        .await
    }

    async fn list_deploys(&self, release_id: i64) -> StoreResult<Vec<Deploy>> {
        self.read(move |conn| {
            records(
                conn,
                &format!(
                    "SELECT {DEPLOY_COLUMNS} FROM deploys WHERE release_id = ?1
                     ORDER BY date_finished DESC, id DESC"
                ),
                [release_id],
                "listing deploys",
            )
        })
        .await
    }
}
