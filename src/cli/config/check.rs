//! `telemit config check`: a file checked for a command, and the settings it resolves to,
//! printed with where each comes from.

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, Command, FromArgMatches};
use toml::Value;

use super::apply::options;
use super::file::ConfigFile;
use super::{
    COMMANDS, Cli, ENV_PREFIX, check_pairs, clap_reason, command, env_name, from_environment,
    is_flag, is_list, key_of, subcommand,
};

/// `telemit config`: work with configuration files.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file for a command and print the settings it resolves to (with
    /// the environment and the defaults), each with where it comes from.
    #[command(
        after_help = "The command is the one named by `command = \"…\"` in the file, \
or the one given here, or the only command that takes every key in the file.

Example:
  telemit config check /etc/telemit/ws.toml
  TELEMIT_TO=tcp://:8094 telemit config check pipe.toml pipe"
    )]
    Check(CheckArgs),
}

/// The arguments of `telemit config check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The configuration file (TOML)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The command the file is for
    #[arg(value_name = "COMMAND", value_parser = COMMANDS)]
    pub command: Option<String>,
}

/// Runs `telemit config …`.
pub fn run(command: ConfigCommand) -> Result<i32, String> {
    match command {
        ConfigCommand::Check(args) => check(&args),
    }
}

fn check(args: &CheckArgs) -> Result<i32, String> {
    let file = ConfigFile::load(&args.file)?;
    let root = command();
    let name = match (&args.command, &file.command) {
        (Some(name), _) => name.clone(),
        (None, Some(name)) => name.get_ref().clone(),
        (None, None) => infer_command(&root, &file)?,
    };
    file.check(&root, &name)?;
    let root = file.apply(root, &name);
    let argv = [
        std::ffi::OsString::from("telemit"),
        std::ffi::OsString::from(&name),
    ];
    let matches = root.clone().try_get_matches_from(&argv).map_err(|e| {
        // A bad TELEMIT_* variable is named as such, not blamed on the file.
        from_environment(&root, &argv, &e).unwrap_or_else(|| {
            format!(
                "config {}: for `telemit {name}`: {}",
                args.file.display(),
                clap_reason(&e)
            )
        })
    })?;
    if let Some(sub) = matches.subcommand_matches(&name) {
        check_pairs(&subcommand(&root, &name), sub)
            .map_err(|e| format!("config {}: {e}", args.file.display()))?;
    }
    let cli = Cli::from_arg_matches(&matches).map_err(|e| clap_reason(&e))?;
    cli.command
        .check_settings()
        .map_err(|e| format!("config {}: {e}", args.file.display()))?;
    let Some(sub_matches) = matches.subcommand_matches(&name) else {
        return Err(format!("no settings for `telemit {name}`"));
    };
    // In the order of the definitions (applying the file moves the options it sets last).
    print!("{}", resolved(&file, &command(), sub_matches, &name));
    Ok(0)
}

/// The command every key of the file belongs to, when only one does.
fn infer_command(root: &Command, file: &ConfigFile) -> Result<String, String> {
    let fits: Vec<&str> = COMMANDS
        .iter()
        .copied()
        .filter(|name| file.settings(root, name).is_ok())
        .collect();
    match fits.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => {
            if file.entries.iter().any(|(k, _)| k.get_ref() == "rule") {
                return Err(format!(
                    "config {}: this is a mapping file ([[rule]] tables): give it to \
                     `telemit ws --map` or `telemit map --map`, not to --config",
                    file.path.display()
                ));
            }
            // No command takes every key: report the first problem for the nearest command,
            // judged by the keys it knows (the first in the list on a tie).
            let known = |name: &&str| {
                let options = options(root, name);
                file.entries
                    .iter()
                    .filter(|(k, _)| options.iter().any(|a| key_of(a) == *k.get_ref()))
                    .count()
            };
            let best = COMMANDS.iter().map(known).max().unwrap_or(0);
            let nearest = COMMANDS
                .iter()
                .copied()
                .find(|name| known(name) == best)
                .unwrap_or("pipe");
            file.check(root, nearest)
                .map(|()| nearest.to_owned())
                .map_err(|e| {
                    format!(
                        "{e}\n(no command takes every key of the file; this is judged for the \
                         nearest, `telemit {nearest}`: name the command with `telemit config \
                         check {} COMMAND` or command = \"…\")",
                        file.path.display()
                    )
                })
        }
        many => Err(format!(
            "config {}: its keys fit `telemit {}`: name one (`telemit config \
                         check {} COMMAND`, \
             or command = \"…\" in the file)",
            file.path.display(),
            many.join("`, `telemit "),
            file.path.display()
        )),
    }
}

/// The settings of `telemit name` as TOML, each commented with its source.
fn resolved(file: &ConfigFile, root: &Command, matches: &ArgMatches, name: &str) -> String {
    let mut out = format!(
        "# telemit {name}: settings from {}, the environment ({ENV_PREFIX}*) and the defaults\n",
        file.path.display()
    );
    out.push_str(&format!("command = {:?}\n", name));
    for arg in options(root, name) {
        let key = key_of(arg);
        let id = arg.get_id().as_str();
        let Some(raw) = matches.get_raw(id) else {
            out.push_str(&format!("# {key}: not set\n"));
            continue;
        };
        let values: Vec<String> = raw.map(|v| v.to_string_lossy().into_owned()).collect();
        let text = if is_flag(arg) {
            matches
                .get_one::<bool>(id)
                .copied()
                .unwrap_or(false)
                .to_string()
        } else if is_list(arg) {
            format!(
                "[{}]",
                values
                    .iter()
                    .map(|v| toml_text(v))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            values.first().map(|v| toml_text(v)).unwrap_or_default()
        };
        let source = match matches.value_source(id) {
            Some(ValueSource::EnvVariable) => format!("environment {}", env_name(arg)),
            Some(ValueSource::DefaultValue) => match file.line_of(&key) {
                Some(line) => format!("file, line {line}"),
                None => "default".to_owned(),
            },
            Some(ValueSource::CommandLine) => "command line".to_owned(),
            _ => "default".to_owned(),
        };
        out.push_str(&format!("{key} = {text}  # {source}\n"));
    }
    out
}

/// A value as TOML: a bare integer when it is one, else a string.
fn toml_text(value: &str) -> String {
    let integer = !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_digit())
        && (value == "0" || !value.starts_with('0'))
        && value.parse::<i64>().is_ok();
    if integer {
        value.to_owned()
    } else {
        Value::String(value.to_owned()).to_string()
    }
}
