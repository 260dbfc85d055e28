//! The `Store` contract of release artifacts, on both backends: chunks stored once however
//! often uploaded and owned per organization, artifact bundles indexed by debug id and by
//! release + dist + URL, a checksum assembled again associated rather than duplicated, release
//! files, and deletes.

mod common;

use common::{project, project_named};
use vigil_store::prelude::*;
use vigil_store::{NewArtifactBundle, NewReleaseFile, ReleaseFields, StoreError};

common::suite_on_both_backends!(
    a_chunk_uploaded_twice_is_one_blob_owned_per_organization,
    a_bundle_is_indexed_by_debug_id_and_by_release_and_url,
    the_same_checksum_again_associates_instead_of_duplicating,
    a_bundle_needs_its_chunks_uploaded_by_its_organization,
    deleting_a_bundle_takes_it_from_one_project_then_removes_it,
    release_files_are_created_listed_renamed_and_deleted,
    pruning_deletes_chunks_no_bundle_is_made_of_once_old,
    a_project_has_source_artifacts_once_a_bundle_or_release_file_is_its,
);

const DEBUG_ID: &str = "c8a1f5a2-0c6b-4b4e-9d44-0f0e6b2b9b6a";

fn bundle(org_id: i64, project_id: i64, checksum: &str, chunks: &[&str]) -> NewArtifactBundle {
    NewArtifactBundle {
        org_id,
        bundle_id: "11111111-2222-3333-4444-555555555555".into(),
        checksum: checksum.into(),
        chunks: chunks.iter().map(|c| c.to_string()).collect(),
        note: Some("ci".into()),
        file_count: 2,
        size: 9,
        debug_ids: vec![
            (DEBUG_ID.into(), "minified_source".into()),
            (DEBUG_ID.into(), "source_map".into()),
        ],
        urls: vec!["~/app.min.js".into(), "~/app.min.js.map".into()],
        project_ids: vec![project_id],
        release: None,
        dist: None,
    }
}

async fn a_chunk_uploaded_twice_is_one_blob_owned_per_organization(store: &dyn Store) {
    let (acme, _) = project(store, "acme").await;
    let (other, _) = project(store, "other").await;
    let chunks = vec![
        ("aa".to_string(), b"hello".to_vec()),
        ("bb".to_string(), b"world!".to_vec()),
    ];
    store.save_chunks(acme, chunks.clone()).await.unwrap();
    store.save_chunks(acme, chunks.clone()).await.unwrap();
    assert_eq!(store.chunk_totals().await.unwrap(), (2, 11));
    let asked = [
        "aa".to_string(),
        "cc".to_string(),
        "bb".to_string(),
        "cc".to_string(),
    ];
    assert_eq!(store.missing_chunks(acme, &asked).await.unwrap(), ["cc"]);
    // The other organization has not uploaded them: they are missing for it, and its upload
    // of the same bytes writes no second blob.
    assert_eq!(
        store.missing_chunks(other, &asked).await.unwrap(),
        ["aa", "cc", "bb"]
    );
    assert_eq!(
        store
            .chunks_bytes(other, &["aa".to_string()])
            .await
            .unwrap(),
        None
    );
    store
        .save_chunks(other, chunks[..1].to_vec())
        .await
        .unwrap();
    assert_eq!(store.chunk_totals().await.unwrap(), (2, 11));
    assert_eq!(
        store.missing_chunks(other, &asked).await.unwrap(),
        ["cc", "bb"]
    );
    let whole = store
        .chunks_bytes(acme, &["bb".to_string(), "aa".to_string()])
        .await
        .unwrap();
    assert_eq!(whole.as_deref(), Some(&b"world!hello"[..]));
}

async fn a_bundle_is_indexed_by_debug_id_and_by_release_and_url(store: &dyn Store) {
    let (acme, shop) = project(store, "acme").await;
    let (_, api) = project_named(store, "acme", "api").await;
    store
        .save_chunks(
            acme,
            vec![
                ("c1".into(), b"abcd".to_vec()),
                ("c2".into(), b"efghi".to_vec()),
            ],
        )
        .await
        .unwrap();
    let mut new = bundle(acme, shop, "whole", &["c1", "c2"]);
    new.release = Some("1.0".into());
    new.dist = Some("web".into());
    let (info, created) = store.save_artifact_bundle(new).await.unwrap();
    assert!(created);
    assert_eq!(info.release.as_deref(), Some("1.0"));
    assert_eq!(info.dist.as_deref(), Some("web"));
    assert_eq!(
        (info.file_count, info.size, info.note.as_deref()),
        (2, 9, Some("ci"))
    );

    let found = store
        .artifact_bundles_for_debug_id(shop, DEBUG_ID)
        .await
        .unwrap();
    assert_eq!(
        found,
        std::slice::from_ref(&info),
        "one bundle, though two of its files carry the id"
    );
    assert!(store
        .artifact_bundles_for_debug_id(api, DEBUG_ID)
        .await
        .unwrap()
        .is_empty());
    let other_id = "00000000-0000-0000-0000-000000000000";
    assert!(store
        .artifact_bundles_for_debug_id(shop, other_id)
        .await
        .unwrap()
        .is_empty());

    let by_url = |release: &'static str, dist: Option<&'static str>, url: &'static str| {
        store.artifact_bundles_for_url(shop, release, dist, url)
    };
    assert_eq!(
        by_url("1.0", Some("web"), "~/app.min.js").await.unwrap(),
        std::slice::from_ref(&info)
    );
    assert!(by_url("1.0", None, "~/app.min.js")
        .await
        .unwrap()
        .is_empty());
    assert!(by_url("2.0", Some("web"), "~/app.min.js")
        .await
        .unwrap()
        .is_empty());
    assert!(by_url("1.0", Some("web"), "~/other.js")
        .await
        .unwrap()
        .is_empty());

    let bytes = store.artifact_bundle_bytes(info.id).await.unwrap();
    assert_eq!(bytes.as_deref(), Some(&b"abcdefghi"[..]));
    assert_eq!(
        store.artifact_bundle_bytes(info.id + 100).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .artifact_bundle_by_checksum(acme, "whole")
            .await
            .unwrap(),
        Some(info)
    );
}

async fn the_same_checksum_again_associates_instead_of_duplicating(store: &dyn Store) {
    let (acme, shop) = project(store, "acme").await;
    let (_, api) = project_named(store, "acme", "api").await;
    store
        .save_chunks(acme, vec![("c1".into(), b"abc".to_vec())])
        .await
        .unwrap();
    let (first, created) = store
        .save_artifact_bundle(bundle(acme, shop, "whole", &["c1"]))
        .await
        .unwrap();
    assert!(created);
    assert_eq!(first.release, None);
    assert!(store
        .artifact_bundles_for_url(shop, "2.0", None, "~/app.min.js")
        .await
        .unwrap()
        .is_empty());

    let mut again = bundle(acme, api, "whole", &["c1"]);
    again.release = Some("2.0".into());
    let (second, created) = store.save_artifact_bundle(again).await.unwrap();
    assert!(!created);
    assert_eq!(second.id, first.id);
    assert_eq!(second.release.as_deref(), Some("2.0"));
    for project_id in [shop, api] {
        let listed = store
            .list_artifact_bundles(project_id, None, 0, 10)
            .await
            .unwrap();
        assert_eq!(listed.len(), 1, "one bundle in project {project_id}");
        assert_eq!(listed[0].associations, [("2.0".to_string(), None)]);
        assert!(listed[0].date_modified >= listed[0].info.date_added);
        let by_url = store
            .artifact_bundles_for_url(project_id, "2.0", None, "~/app.min.js")
            .await
            .unwrap();
        assert_eq!(by_url.len(), 1);
    }
    let by_query = store
        .list_artifact_bundles(shop, Some("2.0"), 0, 10)
        .await
        .unwrap();
    assert_eq!(by_query.len(), 1);
    assert!(store
        .list_artifact_bundles(shop, Some("nope"), 0, 10)
        .await
        .unwrap()
        .is_empty());
    let by_id = store
        .project_artifact_bundle(api, "11111111-2222-3333-4444-555555555555")
        .await
        .unwrap()
        .expect("the bundle by its bundle id");
    assert_eq!(by_id.info.id, first.id);
}

async fn a_bundle_needs_its_chunks_uploaded_by_its_organization(store: &dyn Store) {
    let (acme, _) = project(store, "acme").await;
    let (other, theirs) = project(store, "other").await;
    store
        .save_chunks(acme, vec![("c1".into(), b"abc".to_vec())])
        .await
        .unwrap();
    let err = store
        .save_artifact_bundle(bundle(other, theirs, "whole", &["c1"]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound(what) if what == "chunk c1"),
        "{err:?}"
    );
    assert!(store
        .list_artifact_bundles(theirs, None, 0, 10)
        .await
        .unwrap()
        .is_empty());
}

async fn deleting_a_bundle_takes_it_from_one_project_then_removes_it(store: &dyn Store) {
    let (acme, shop) = project(store, "acme").await;
    let (_, api) = project_named(store, "acme", "api").await;
    store
        .save_chunks(acme, vec![("c1".into(), b"abc".to_vec())])
        .await
        .unwrap();
    let mut new = bundle(acme, shop, "whole", &["c1"]);
    new.project_ids = vec![shop, api];
    let (info, _) = store.save_artifact_bundle(new).await.unwrap();
    let bundle_id = info.bundle_id.as_str();
    assert!(!store
        .delete_artifact_bundle(shop, "no-such-bundle")
        .await
        .unwrap());
    assert!(store.delete_artifact_bundle(shop, bundle_id).await.unwrap());
    assert!(store
        .list_artifact_bundles(shop, None, 0, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .artifact_bundles_for_debug_id(shop, DEBUG_ID)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .artifact_bundles_for_debug_id(api, DEBUG_ID)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store.delete_artifact_bundle(api, bundle_id).await.unwrap());
    assert_eq!(
        store
            .artifact_bundle_by_checksum(acme, "whole")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.artifact_bundle_bytes(info.id).await.unwrap(), None);
    // The chunk stays for the next bundle that shares it.
    assert!(store
        .missing_chunks(acme, &["c1".to_string()])
        .await
        .unwrap()
        .is_empty());
}

async fn release_files_are_created_listed_renamed_and_deleted(store: &dyn Store) {
    let (acme, shop) = project(store, "acme").await;
    let (_, api) = project_named(store, "acme", "api").await;
    let (release, _) = store
        .upsert_release(acme, "1.0", &[shop, api], &ReleaseFields::default())
        .await
        .unwrap();
    let file =
        |project_id: Option<i64>, name: &str, dist: Option<&str>, bytes: &[u8]| NewReleaseFile {
            org_id: acme,
            release_id: release.id,
            project_id,
            dist: dist.map(str::to_owned),
            name: name.into(),
            headers: [("Sourcemap".to_string(), "app.js.map".to_string())].into(),
            sha1: format!("sha1-{name}"),
            payload: bytes.to_vec(),
        };
    let app = store
        .create_release_file(file(None, "~/app.js", None, b"code"))
        .await
        .unwrap();
    assert_eq!(
        (app.release.as_str(), app.size, app.dist.as_deref()),
        ("1.0", 4, None)
    );
    assert_eq!(
        app.headers.get("Sourcemap").map(String::as_str),
        Some("app.js.map")
    );
    let dup = store
        .create_release_file(file(Some(shop), "~/app.js", None, b"x"))
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let web = store
        .create_release_file(file(Some(shop), "~/app.js", Some("web"), b"web code"))
        .await
        .unwrap();
    let mapped = store
        .create_release_file(file(Some(api), "~/api.js", None, b"api"))
        .await
        .unwrap();

    let names = |files: Vec<vigil_store::ReleaseFile>| -> Vec<(String, Option<String>)> {
        files.into_iter().map(|f| (f.name, f.dist)).collect()
    };
    assert_eq!(
        names(store.list_release_files(release.id, None).await.unwrap()),
        [
            ("~/api.js".into(), None),
            ("~/app.js".into(), None),
            ("~/app.js".into(), Some("web".into()))
        ]
    );
    assert_eq!(
        names(
            store
                .list_release_files(release.id, Some(shop))
                .await
                .unwrap()
        ),
        [
            ("~/app.js".into(), None),
            ("~/app.js".into(), Some("web".into()))
        ]
    );

    let (found, bytes) = store
        .release_file_by_url(api, "1.0", None, "~/app.js")
        .await
        .unwrap()
        .expect("an org-wide file is every project's");
    assert_eq!((found.id, bytes.as_slice()), (app.id, &b"code"[..]));
    let (found, _) = store
        .release_file_by_url(shop, "1.0", Some("web"), "~/app.js")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, web.id);
    assert!(store
        .release_file_by_url(api, "1.0", Some("web"), "~/app.js")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .release_file_by_url(shop, "1.0", None, "~/api.js")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .release_file_by_url(shop, "2.0", None, "~/app.js")
        .await
        .unwrap()
        .is_none());

    let renamed = store
        .update_release_file(release.id, mapped.id, "~/renamed.js", Some("d1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (renamed.name.as_str(), renamed.dist.as_deref()),
        ("~/renamed.js", Some("d1"))
    );
    let taken = store
        .update_release_file(release.id, mapped.id, "~/app.js", None)
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
    assert_eq!(
        store
            .release_file_bytes(mapped.id)
            .await
            .unwrap()
            .as_deref(),
        Some(&b"api"[..])
    );
    assert_eq!(
        store.release_file(release.id, mapped.id).await.unwrap(),
        Some(renamed)
    );

    assert!(store
        .delete_release_file(release.id, mapped.id)
        .await
        .unwrap());
    assert!(!store
        .delete_release_file(release.id, mapped.id)
        .await
        .unwrap());
    assert_eq!(
        store.release_file(release.id, mapped.id).await.unwrap(),
        None
    );
    // Deleting the release deletes its files.
    store.delete_release(acme, "1.0").await.unwrap();
    assert_eq!(store.release_file_bytes(app.id).await.unwrap(), None);
}

async fn pruning_deletes_chunks_no_bundle_is_made_of_once_old(store: &dyn Store) {
    let (acme, shop) = project(store, "acme").await;
    store
        .save_chunks(
            acme,
            vec![
                ("used".into(), b"abc".to_vec()),
                ("unused".into(), b"defg".to_vec()),
            ],
        )
        .await
        .unwrap();
    store
        .save_artifact_bundle(bundle(acme, shop, "whole", &["used"]))
        .await
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    // Uploaded within the last hour: spared, a CI may be about to assemble it.
    assert_eq!(store.prune_chunks(now - 3600.0, 100).await.unwrap(), 0);
    assert_eq!(store.chunk_totals().await.unwrap(), (2, 7));
    assert_eq!(store.prune_chunks(now + 1.0, 100).await.unwrap(), 1);
    assert_eq!(store.chunk_totals().await.unwrap(), (1, 3));
    let both = ["used".to_string(), "unused".to_string()];
    assert_eq!(store.missing_chunks(acme, &both).await.unwrap(), ["unused"]);
    // Once its bundle is deleted, the last chunk goes too.
    store
        .delete_artifact_bundle(shop, "11111111-2222-3333-4444-555555555555")
        .await
        .unwrap();
    assert_eq!(store.prune_chunks(now + 1.0, 100).await.unwrap(), 1);
    assert_eq!(store.chunk_totals().await.unwrap(), (0, 0));
}

async fn a_project_has_source_artifacts_once_a_bundle_or_release_file_is_its(store: &dyn Store) {
    let (acme, shop) = project(store, "acme").await;
    let (_, api) = project_named(store, "acme", "api").await;
    let (_, web) = project_named(store, "acme", "web").await;
    let (other_org, elsewhere) = project(store, "other").await;
    for id in [shop, api, web, elsewhere] {
        assert!(!store.has_source_artifacts(id).await.unwrap());
    }
    store
        .save_chunks(acme, vec![("c1".into(), b"abcd".to_vec())])
        .await
        .unwrap();
    store
        .save_artifact_bundle(bundle(acme, shop, "whole", &["c1"]))
        .await
        .unwrap();
    assert!(store.has_source_artifacts(shop).await.unwrap());
    assert!(!store.has_source_artifacts(api).await.unwrap());

    // A release file of one project counts for it; one for every project, for all the org's.
    let (release, _) = store
        .upsert_release(acme, "1.0", &[api, web], &ReleaseFields::default())
        .await
        .unwrap();
    let file = |project_id: Option<i64>, name: &str| NewReleaseFile {
        org_id: acme,
        release_id: release.id,
        project_id,
        dist: None,
        name: name.into(),
        headers: Default::default(),
        sha1: format!("sha1-{name}"),
        payload: b"code".to_vec(),
    };
    store
        .create_release_file(file(Some(api), "~/api.js"))
        .await
        .unwrap();
    assert!(store.has_source_artifacts(api).await.unwrap());
    assert!(!store.has_source_artifacts(web).await.unwrap());
    store
        .create_release_file(file(None, "~/all.js"))
        .await
        .unwrap();
    assert!(store.has_source_artifacts(web).await.unwrap());
    assert!(!store.has_source_artifacts(elsewhere).await.unwrap());
    let _ = other_org;
}
