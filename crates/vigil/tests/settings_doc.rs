//! The README's settings table is the settings' declarations, rendered: every argument of
//! `vigil serve` (its flag, its `VIGIL_*` variable, its default and its help line) is one row,
//! and the README must hold exactly those rows between its two marker comments. A setting added,
//! renamed or re-defaulted in code without the README fails here, with the table to paste
//! (or `VIGIL_UPDATE_README=1` writes it).

// The command line is the binary's, which has no library to import it from; its module only
// names clap and the server crate, so it compiles here as it is. Not every field is read here.
#[allow(dead_code)]
#[path = "../src/cli.rs"]
mod cli;

use std::path::PathBuf;
use std::process::Command;

use clap::CommandFactory;

const BEGIN: &str = "<!-- settings:begin -->";
const END: &str = "<!-- settings:end -->";

/// One setting as `vigil serve` declares it.
struct Setting {
    flag: String,
    env: String,
    default: Option<String>,
    help: String,
}

/// Every setting `vigil serve` takes: the ones every command shares first, then its own, in
/// declaration order.
fn settings() -> Vec<Setting> {
    let root = cli::Cli::command();
    let serve = root
        .find_subcommand("serve")
        .expect("the CLI has a serve subcommand")
        .clone();
    let shared = root.get_arguments().filter(|arg| arg.is_global_set());
    shared
        .chain(serve.get_arguments())
        .filter(|arg| !matches!(arg.get_id().as_str(), "help" | "version"))
        .map(|arg| {
            let id = arg.get_id().as_str();
            Setting {
                flag: format!(
                    "--{}",
                    arg.get_long()
                        .unwrap_or_else(|| panic!("setting {id} has no long flag"))
                ),
                env: arg
                    .get_env()
                    .unwrap_or_else(|| panic!("setting {id} has no VIGIL_* variable"))
                    .to_string_lossy()
                    .into_owned(),
                default: match arg.get_default_values() {
                    [] => None,
                    values => Some(
                        values
                            .iter()
                            .map(|v| v.to_string_lossy().into_owned())
                            .collect::<Vec<_>>()
                            .join(","),
                    ),
                },
                help: arg
                    .get_help()
                    .unwrap_or_else(|| panic!("setting {id} has no help line"))
                    .to_string(),
            }
        })
        .collect()
}

/// The Markdown table the README holds between its markers.
fn render_table(settings: &[Setting]) -> String {
    let mut table =
        String::from("| flag | env | default | what it sets |\n| --- | --- | --- | --- |\n");
    for setting in settings {
        let default = setting
            .default
            .as_deref()
            .map_or_else(|| "unset".to_string(), |value| format!("`{value}`"));
        table.push_str(&format!(
            "| `{}` | `{}` | {} | {} |\n",
            setting.flag,
            setting.env,
            default,
            setting.help.replace('|', "\\|")
        ));
    }
    table
}

fn readme_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../README.md")
}

#[test]
fn readme_settings_table_is_the_declared_settings() {
    let expected = render_table(&settings());
    let path = readme_path();
    let readme = std::fs::read_to_string(&path).expect("read README.md");
    let start = readme
        .find(BEGIN)
        .unwrap_or_else(|| panic!("README.md lacks {BEGIN}"))
        + BEGIN.len();
    let end = start
        + readme[start..]
            .find(END)
            .unwrap_or_else(|| panic!("README.md lacks {END} after {BEGIN}"));
    let current = readme[start..end].trim_start_matches('\n');
    if current == expected {
        return;
    }
    if std::env::var_os("VIGIL_UPDATE_README").is_some_and(|v| v == "1") {
        let updated = format!("{}\n{expected}{}", &readme[..start], &readme[end..]);
        std::fs::write(&path, updated).expect("write README.md");
        return;
    }
    panic!(
        "README.md's settings table does not match the declarations. Between {BEGIN} and {END} \
         it should read (or run with VIGIL_UPDATE_README=1):\n\n{expected}"
    );
}

/// Vaultwarden's convention, which every existing setting follows: the variable is the flag
/// in capitals under `VIGIL_`, so knowing one is knowing the other.
#[test]
fn every_variable_is_its_flag_in_capitals() {
    for setting in settings() {
        let from_flag = format!(
            "VIGIL_{}",
            setting
                .flag
                .trim_start_matches("--")
                .replace('-', "_")
                .to_uppercase()
        );
        assert_eq!(
            setting.env, from_flag,
            "{} is named apart from its flag",
            setting.flag
        );
    }
}

#[test]
fn serve_help_lists_every_flag_and_variable() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
    command.args(["serve", "--help"]);
    // A value set in the developer's shell would be shown beside its variable; the names are
    // what is checked, so the environment is left out.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("VIGIL_") {
            command.env_remove(name);
        }
    }
    let output = command.output().expect("run vigil serve --help");
    assert!(
        output.status.success(),
        "vigil serve --help failed: {output:?}"
    );
    // clap wraps help at the terminal's width, which may break `[env: NAME]` across lines:
    // compare with every run of white space as one space.
    let help = String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for setting in settings() {
        assert!(
            help.contains(&setting.flag),
            "--help lacks {}:\n{help}",
            setting.flag
        );
        assert!(
            help.contains(&format!("[env: {}", setting.env)),
            "--help lacks {}:\n{help}",
            setting.env
        );
    }
}

/// Secrets never appear in `--help`, even when they are set.
#[test]
fn serve_help_hides_the_values_of_secrets() {
    let output = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["serve", "--help"])
        .env("VIGIL_ADMIN_PASSWORD", "hunter2-admin")
        .env(
            "VIGIL_SMTP_URL",
            "smtp://user:hunter2-smtp@mail.example.com:587",
        )
        .env(
            "VIGIL_DATABASE_URL",
            "postgres://vigil:hunter2-db@db.example.com/vigil",
        )
        .output()
        .expect("run vigil serve --help");
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "vigil serve --help failed: {output:?}"
    );
    assert!(!help.contains("hunter2"), "--help shows a secret:\n{help}");
}
