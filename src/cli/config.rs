//! Settings from a TOML file (`--config FILE`) and from `TELEMIT_*` environment variables, below
//! the flags: flags > environment > file > built-in default, for every option of every command.
//!
//! Both come from the argument definitions, in one place, so a new option gets its variable and
//! its key without further code:
//! - the variable is `TELEMIT_` and the long flag upper-cased with `-` turned into `_`
//!   (`--flush-timeout` → `TELEMIT_FLUSH_TIMEOUT`; a positional argument by its name, `URL` →
//!   `TELEMIT_URL`), read by clap's `env`;
//! - the file's key is the long flag with `-` turned into `_` (`flush_timeout`), the style of
//!   Telegraf's own options, and its value becomes the option's default, so a variable or a
//!   flag given for the same option replaces it whole (for a repeated option such as `--tag`,
//!   the flags' list replaces the variable's, which replaces the file's: lists never merge).
//!
//! Boolean flags take an optional value (`--gzip=false`), so that a flag can also turn off
//! what the environment or the file turned on.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::builder::{BoolishValueParser, Resettable};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Args, Command, CommandFactory, FromArgMatches, Id};
use toml::{Spanned, Value};

use super::Cli;

/// The prefix of every option's environment variable.
pub const ENV_PREFIX: &str = "TELEMIT_";

/// The commands a configuration file can hold the options of.
const COMMANDS: [&str; 7] = ["send", "pipe", "listen", "ws", "map", "demo", "bench"];

/// The command line definition with an environment variable for every option.
pub fn command() -> Command {
    with_env(Cli::command())
}

/// Parses the process's arguments with the environment and the `--config` file under them;
/// exits as clap does on a usage error (status 2), and with status 2 on a bad file.
pub fn parse() -> Cli {
    match parse_from(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(Failure::Usage(error)) => error.exit(),
        Err(Failure::Config(message)) => {
            eprintln!("telemit: {message}");
            std::process::exit(2)
        }
    }
}

/// Why the arguments give no command to run.
pub enum Failure {
    /// A usage error (or `--help`), rendered by clap.
    Usage(clap::Error),
    /// The configuration file is unreadable or holds a bad key or value.
    Config(String),
}

fn parse_from(mut argv: Vec<OsString>) -> Result<Cli, Failure> {
    let mut cmd = command();
    // A first, lenient pass finds the command and the file; `--help` and `--version` skip the
    // file, so that they work wherever the file is missing.
    let first = command()
        .ignore_errors(true)
        .try_get_matches_from(argv.iter());
    if let Ok(first) = first {
        let sub = first.subcommand();
        let path = sub
            .and_then(|(_, sub)| sub.get_one::<PathBuf>("config"))
            .or_else(|| first.get_one::<PathBuf>("config"));
        let name = sub.map(|(name, _)| name);
        if let Some(path) = path
            && name.is_none_or(|name| COMMANDS.contains(&name))
        {
            let file = ConfigFile::load(path).map_err(Failure::Config)?;
            // `telemit --config FILE` runs the command the file names.
            let name = match (name, &file.command) {
                (Some(name), _) => Some(name.to_owned()),
                (None, Some(command)) => {
                    argv.push(command.get_ref().into());
                    Some(command.get_ref().clone())
                }
                (None, None) => None,
            };
            if let Some(name) = name {
                file.check(&cmd, &name).map_err(Failure::Config)?;
                cmd = file.apply(cmd, &name);
            }
        }
    }
    let matches = cmd.clone().try_get_matches_from(argv.iter()).map_err(|e| {
        from_environment(&cmd, &argv, &e).map_or(Failure::Usage(e), Failure::Config)
    })?;
    if let Some((name, sub)) = matches.subcommand() {
        check_pairs(&subcommand(&cmd, name), sub).map_err(Failure::Config)?;
    }
    Cli::from_arg_matches(&matches).map_err(Failure::Usage)
}

/// For a value clap refused that came from a variable, not a flag: the message naming the
/// variable (clap's names the flag).
fn from_environment(cmd: &Command, argv: &[OsString], error: &clap::Error) -> Option<String> {
    if !matches!(
        error.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let Some(ContextValue::String(flag)) = error.get(ContextKind::InvalidArg) else {
        return None;
    };
    let Some(ContextValue::String(value)) = error.get(ContextKind::InvalidValue) else {
        return None;
    };
    let long = flag.split(['[', ' ', '=']).next()?.strip_prefix("--")?;
    let given = argv.iter().any(|a| {
        a.to_str()
            .and_then(|a| a.strip_prefix("--"))
            .is_some_and(|a| a == long || a.starts_with(&format!("{long}=")))
    });
    let arg = std::iter::once(cmd)
        .chain(cmd.get_subcommands())
        .flat_map(Command::get_arguments)
        .find(|a| a.get_long() == Some(long))?;
    let name = env_name(arg);
    if given || std::env::var(&name).ok().as_deref() != Some(value.as_str()) {
        return None;
    }
    Some(format!(
        "environment {name}={value:?}: {}",
        clap_reason(error)
    ))
}

/// Options that need another (clap's `requires`, which does not look at defaults, and so at
/// a file's values): the option, and the one it needs.
const PAIRS: [(&str, &str); 3] = [
    ("tls_cert", "tls_key"),
    ("tls_key", "tls_cert"),
    ("tls_allowed_cacerts", "tls_cert"),
];

/// The first option set without the one it needs, in the settings of one command.
fn check_pairs(cmd: &Command, matches: &ArgMatches) -> Result<(), String> {
    let set = |key: &str| {
        cmd.get_arguments()
            .find(|a| key_of(a) == key)
            .is_some_and(|a| matches.get_raw(a.get_id().as_str()).is_some())
    };
    for (option, needed) in PAIRS {
        if set(option) && !set(needed) {
            return Err(format!(
                "{option} needs {needed} (--{}, {ENV_PREFIX}{})",
                needed.replace('_', "-"),
                needed.to_uppercase()
            ));
        }
    }
    Ok(())
}

fn subcommand(cmd: &Command, name: &str) -> Command {
    cmd.find_subcommand(name)
        .cloned()
        .unwrap_or_else(|| Command::new(name.to_owned()))
}

/// Gives every option of `cmd` and its subcommands (but `config`'s) its environment variable,
/// and every boolean flag an optional `=true|false`.
fn with_env(cmd: Command) -> Command {
    cmd.mut_args(with_variable).mut_subcommands(|sc| {
        if sc.get_name() == "config" {
            sc
        } else {
            with_env(sc)
        }
    })
}

fn with_variable(arg: Arg) -> Arg {
    if !configurable(&arg) && arg.get_id() != "config" {
        return arg;
    }
    let name = env_name(&arg);
    let arg = arg.env(name);
    if is_flag(&arg) {
        // `--gzip` is `--gzip=true`; `--gzip=false` overrides a true from the environment or
        // the file; TELEMIT_GZIP takes 1/0, yes/no, on/off, true/false.
        arg.action(ArgAction::Set)
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true")
            .default_value("false")
            .value_parser(BoolishValueParser::new())
            .value_name("BOOL")
            .hide_default_value(true)
            .hide_possible_values(true)
    } else {
        arg
    }
}

/// True for the options a file or a variable may set: all but help, version and counters.
fn configurable(arg: &Arg) -> bool {
    matches!(
        arg.get_action(),
        ArgAction::Set | ArgAction::Append | ArgAction::SetTrue
    ) && arg.get_id() != "config"
}

fn is_flag(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::SetTrue)
        || (matches!(arg.get_action(), ArgAction::Set)
            && arg.is_require_equals_set()
            && arg.get_value_parser().type_id() == std::any::TypeId::of::<bool>())
}

/// `TELEMIT_` + the long flag (or the positional's name) upper-cased, `-` → `_`.
pub fn env_name(arg: &Arg) -> String {
    format!("{ENV_PREFIX}{}", key_of(arg).to_uppercase())
}

/// The file key of `arg`: its long flag with `-` → `_`, or a positional's name, lower-cased.
pub fn key_of(arg: &Arg) -> String {
    match arg.get_long() {
        Some(long) => long.replace('-', "_"),
        None => arg.get_id().as_str().to_lowercase(),
    }
}

/// The joiner of a `KEY=VALUE` or `NAME:VALUE` option, which a file may also give as a table.
fn pair_separator(arg: &Arg) -> Option<char> {
    let names = arg.get_value_names()?;
    let name = names.first()?.as_str();
    if name.contains('=') {
        Some('=')
    } else if name.contains(':') {
        Some(':')
    } else {
        None
    }
}

fn is_list(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append)
}

/// A configuration file: its top-level keys with where each is.
pub struct ConfigFile {
    path: PathBuf,
    text: String,
    /// The command the file says it is for (`command = "ws"`), if it says.
    command: Option<Spanned<String>>,
    entries: Vec<(Spanned<String>, Spanned<Value>)>,
}

/// One option's value from a file, as command-line strings.
struct Setting {
    id: Id,
    /// An option of the whole program (`Cli`), rather than of the command.
    global: bool,
    values: Vec<String>,
}

/// The options of `telemit name` a file may set: the command's own, then the global ones.
fn options<'a>(root: &'a Command, name: &str) -> Vec<&'a Arg> {
    root.find_subcommand(name)
        .into_iter()
        .flat_map(Command::get_arguments)
        .chain(root.get_arguments().filter(|a| a.is_global_set()))
        .filter(|a| configurable(a))
        .collect()
}

/// The largest configuration file read: far beyond any real one, and a stop for a path such as
/// `/dev/zero` that never ends.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The file's text; an error names the file and, for bytes that are not UTF-8, the line,
/// column and byte offset where they start.
fn read_limited(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let fail = |e: &dyn std::fmt::Display| format!("config {}: {e}", path.display());
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| fail(&e))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(fail(&format!(
            "longer than {MAX_CONFIG_BYTES} bytes: not a configuration file"
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..at];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = at
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
            + 1;
        fail(&format!(
            "line {line}, column {column} (byte {at}): not UTF-8"
        ))
    })
}

impl ConfigFile {
    /// Reads and parses `path` (TOML); the error names the file, and for a syntax error the
    /// line and column.
    pub fn load(path: &Path) -> Result<ConfigFile, String> {
        let text = read_limited(path)?;
        let table: BTreeMap<Spanned<String>, Spanned<Value>> = toml::from_str(&text)
            .map_err(|e| format!("config {}: {}", path.display(), e.to_string().trim_end()))?;
        let mut entries: Vec<_> = table.into_iter().collect();
        entries.sort_by_key(|(key, _)| key.span().start);
        let mut file = ConfigFile {
            path: path.to_owned(),
            text,
            command: None,
            entries: Vec::new(),
        };
        for (key, value) in entries {
            if key.get_ref() == "command" {
                let span = value.span();
                match value.into_inner() {
                    Value::String(name) if COMMANDS.contains(&name.as_str()) => {
                        file.command = Some(Spanned::new(span, name));
                    }
                    other => {
                        return Err(file.error_at(
                            span.start,
                            &format!(
                                "command = {other}: expected one of {}",
                                quoted_list(COMMANDS.iter().copied())
                            ),
                        ));
                    }
                }
            } else {
                file.entries.push((key, value));
            }
        }
        Ok(file)
    }

    /// `config PATH, line L, column C: message`.
    fn error_at(&self, offset: usize, message: &str) -> String {
        let (line, column) = line_column(&self.text, offset);
        format!(
            "config {}, line {line}, column {column}: {message}",
            self.path.display()
        )
    }

    /// Checks every key against the options of `telemit name` (in `root`) and every value
    /// against the option's parser; the first problem, with its line and column.
    pub fn check(&self, root: &Command, name: &str) -> Result<(), String> {
        if let Some(command) = &self.command
            && command.get_ref() != name
        {
            return Err(self.error_at(
                command.span().start,
                &format!(
                    "this file is for `telemit {}`, not `telemit {name}`",
                    command.get_ref()
                ),
            ));
        }
        self.settings(root, name).map(|_| ())
    }

    fn settings(&self, root: &Command, name: &str) -> Result<Vec<Setting>, String> {
        let options = options(root, name);
        let mut settings = Vec::new();
        for (key, value) in &self.entries {
            let Some(arg) = options.iter().find(|a| key_of(a) == *key.get_ref()) else {
                return Err(self.error_at(key.span().start, &unknown_key(key, &options, name)));
            };
            let values = self.values(arg, key.get_ref(), value)?;
            settings.push(Setting {
                id: arg.get_id().clone(),
                global: arg.is_global_set(),
                values,
            });
        }
        Ok(settings)
    }

    /// The value as the command-line strings of `arg`, each checked by its parser.
    fn values(&self, arg: &Arg, key: &str, value: &Spanned<Value>) -> Result<Vec<String>, String> {
        let at = |message: String| self.error_at(value.span().start, &message);
        let shown = value.get_ref().to_string();
        let values = if is_flag(arg) {
            match value.get_ref() {
                Value::Boolean(b) => vec![b.to_string()],
                _ => return Err(at(format!("{key} = {shown}: expected true or false"))),
            }
        } else {
            match (value.get_ref(), pair_separator(arg)) {
                (Value::Table(table), Some(separator)) if is_list(arg) => table
                    .iter()
                    .map(|(k, v)| {
                        scalar(v)
                            .map(|v| format!("{k}{separator}{v}"))
                            .ok_or_else(|| {
                                at(format!("{key}.{k} = {v}: expected a string or a number"))
                            })
                    })
                    .collect::<Result<_, _>>()?,
                (Value::Array(items), _) if is_list(arg) => items
                    .iter()
                    .map(|v| {
                        scalar(v).ok_or_else(|| {
                            at(format!(
                                "{key}: {v} in the list is not a string or a number"
                            ))
                        })
                    })
                    .collect::<Result<_, _>>()?,
                (Value::Array(_), _) => {
                    return Err(at(format!("{key} = {shown}: takes one value, not a list")));
                }
                (other, _) => vec![scalar(other).ok_or_else(|| {
                    at(format!(
                        "{key} = {shown}: expected {}",
                        if pair_separator(arg).is_some() {
                            "a list of strings or a table"
                        } else if is_list(arg) {
                            "a string, a number or a list of them"
                        } else {
                            "a string or a number"
                        }
                    ))
                })?],
            }
        };
        for text in &values {
            validate(arg, text).map_err(|reason| {
                at(format!("{key} = {}: {reason}", Value::String(text.clone())))
            })?;
        }
        Ok(values)
    }

    /// `root` with the file's values as the defaults of the options of `telemit name`.
    ///
    /// clap's "required unless another is present" rules do not count defaults, so with a file
    /// they are dropped: the command itself reports what is missing (send: no measurement).
    /// "Requires" rules are checked by [`check_pairs`].
    pub fn apply(&self, root: Command, name: &str) -> Command {
        let Ok(settings) = self.settings(&root, name) else {
            return root;
        };
        let root = root.mut_subcommand(name, |sc| {
            sc.mut_args(|arg| arg.required_unless_present(Resettable::<Id>::Reset))
        });
        // The file's value stands in for the flag, so it meets a "required" rule.
        let with_value =
            |values: Vec<String>| move |arg: Arg| arg.required(false).default_values(values);
        settings.into_iter().fold(root, |root, setting| {
            if setting.global {
                root.mut_arg(setting.id, with_value(setting.values))
            } else {
                root.mut_subcommand(name, |sc| {
                    sc.mut_arg(setting.id, with_value(setting.values))
                })
            }
        })
    }

    fn line_of(&self, key: &str) -> Option<usize> {
        self.entries
            .iter()
            .find(|(k, _)| k.get_ref() == key)
            .map(|(k, _)| line_column(&self.text, k.span().start).0)
    }
}

/// A TOML scalar as command-line text.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

/// Runs `arg`'s own parser over `text` alone; the reason it refuses it.
fn validate(arg: &Arg, text: &str) -> Result<(), String> {
    let mut probe = Arg::new("value")
        .long("value")
        .value_parser(arg.get_value_parser().clone())
        .action(ArgAction::Set)
        .allow_hyphen_values(true);
    if let Some(delimiter) = arg.get_value_delimiter() {
        probe = probe.value_delimiter(delimiter).action(ArgAction::Append);
    }
    Command::new("probe")
        .no_binary_name(true)
        .arg(probe)
        .try_get_matches_from([format!("--value={text}")])
        .map(|_| ())
        .map_err(|e| clap_reason(&e))
}

/// The reason in a clap error, without its `error:` prefix and usage lines.
fn clap_reason(error: &clap::Error) -> String {
    if let Some(source) = std::error::Error::source(error) {
        return source.to_string();
    }
    if error.kind() == ErrorKind::MissingRequiredArgument
        && let Some(ContextValue::Strings(missing)) = error.get(ContextKind::InvalidArg)
    {
        let missing: Vec<String> = missing
            .iter()
            .map(|usage| {
                // "--map <FILE>" or "<URL>": the key, and its variable.
                let key = match usage.strip_prefix("--") {
                    Some(flag) => flag
                        .split([' ', '='])
                        .next()
                        .unwrap_or(flag)
                        .replace('-', "_"),
                    None => usage.trim_matches(['<', '>', '.']).to_lowercase(),
                };
                format!("{key} ({ENV_PREFIX}{})", key.to_uppercase())
            })
            .collect();
        return format!("not set: {}", missing.join(", "));
    }
    if error.kind() == ErrorKind::InvalidValue
        && let Some(ContextValue::Strings(valid)) = error.get(ContextKind::ValidValue)
        && !valid.is_empty()
    {
        return format!(
            "expected one of {}",
            quoted_list(valid.iter().map(String::as_str))
        );
    }
    let rendered = error.render().to_string();
    rendered
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_owned()
}

fn quoted_list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The message for a key no option of `telemit name` has: the nearest key, and all of them.
fn unknown_key(key: &Spanned<String>, options: &[&Arg], name: &str) -> String {
    let keys: Vec<String> = options.iter().map(|a| key_of(a)).collect();
    let nearest = keys
        .iter()
        .map(|k| (strsim::jaro_winkler(k, key.get_ref()), k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!(" (did you mean {k:?}?)"))
        .unwrap_or_default();
    format!(
        "unknown key {:?} for `telemit {name}`{nearest}; its keys are {}",
        key.get_ref(),
        keys.join(", ")
    )
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

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
    let matches = root
        .clone()
        .try_get_matches_from(["telemit", name.as_str()])
        .map_err(|e| {
            format!(
                "config {}: for `telemit {name}`: {}",
                args.file.display(),
                clap_reason(&e)
            )
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
            // No command takes every key: report the first problem for the nearest command,
            // judged by the keys it knows.
            let nearest = COMMANDS
                .iter()
                .copied()
                .max_by_key(|name| {
                    let options = options(root, name);
                    file.entries
                        .iter()
                        .filter(|(k, _)| options.iter().any(|a| key_of(a) == *k.get_ref()))
                        .count()
                })
                .unwrap_or("pipe");
            file.check(root, nearest).map(|()| nearest.to_owned())
        }
        many => Err(format!(
            "config {}: its keys fit `telemit {}`: name one (`telemit config check {} COMMAND`, \
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definitions_with_variables_are_consistent() {
        command().debug_assert();
    }

    #[test]
    fn names_follow_the_long_flag() {
        let cmd = command();
        let pipe = cmd.find_subcommand("pipe").unwrap();
        let arg = pipe
            .get_arguments()
            .find(|a| a.get_id() == "flush_timeout")
            .unwrap();
        assert_eq!(key_of(arg), "flush_timeout");
        assert_eq!(
            arg.get_env().and_then(|e| e.to_str()),
            Some("TELEMIT_FLUSH_TIMEOUT")
        );
        let ws = cmd.find_subcommand("ws").unwrap();
        let url = ws.get_arguments().find(|a| a.get_id() == "url").unwrap();
        assert_eq!(url.get_env().and_then(|e| e.to_str()), Some("TELEMIT_URL"));
    }

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_column("a = 1\nbé = 2\n", 0), (1, 1));
        assert_eq!(line_column("a = 1\nbé = 2\n", 6), (2, 1));
        assert_eq!(line_column("a = 1\nbé = 2\n", 10), (2, 4));
        // Inside a character, or past the end: no panic.
        assert_eq!(line_column("bé", 2), (1, 2));
        assert_eq!(line_column("a", 99), (1, 2));
    }
}
