//! The command line: argument parsing, logging set-up, and one module per command.

pub mod adopt;
mod adopt_end;
mod alerts;
mod camera;
mod catalog;
mod config_edit;
mod cost;
mod demo;
mod doctor;
mod doctor_mirrors;
mod generate;
mod import;
mod index;
mod ingest;
mod init;
mod ledger;
mod lifecycle;
mod ls;
mod mirror;
mod passwd;
mod restore;
mod samba;
mod search;
mod serve;
mod setup;
mod status;
mod store;
mod times;
mod user;
mod verify;
mod verify_mirror;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{Config, LogFormat};

#[derive(Parser)]
#[command(
    name = "camvault",
    version = generate::version(),
    about = "Keeps every security-camera recording forever: SMB inbox -> catalog -> object store, verified.",
    long_about = "camvault captures each finished recording the camera writes into the inbox, catalogs it, \
uploads it to an object store, verifies it, and keeps a local cache. Start with `camvault demo`, \
or `camvault init` then `camvault serve`."
)]
struct Cli {
    /// Config file [default: $CAMVAULT_CONFIG, else ./camvault.toml, else /etc/camvault/camvault.toml]
    #[arg(long, global = true, env = "CAMVAULT_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// Log format (overrides `log.format`)
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormatArg>,

    /// More log output (repeat for more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Create a data directory: config, inbox, vault, store and catalog
    Init {
        /// Directory to create
        #[arg(long, default_value = "camvault-data")]
        dir: PathBuf,
        /// Overwrite an existing camvault.toml
        #[arg(long)]
        force: bool,
    },
    /// Run everything (watch, capture, upload, verify, cache, restores, the web interface on
    /// `http.listen`) until SIGINT/SIGTERM
    Serve,
    /// Capture every complete file, upload and verify, then exit (1 if anything failed)
    Ingest {
        /// Run one pass and exit (the only mode; `serve` runs continuously)
        #[arg(long, required = true)]
        once: bool,
    },
    /// What is captured, stored, verified, pending and failing
    Status {
        #[arg(long)]
        json: bool,
    },
    /// List recordings
    Ls {
        /// Camera id (configured name or MAC)
        #[arg(long)]
        camera: Option<String>,
        /// From this time: RFC 3339, or `YYYY-MM-DD[ HH:MM]` in the camera's zone
        #[arg(long)]
        from: Option<String>,
        /// Up to (excluding) this time, same forms as --from
        #[arg(long)]
        to: Option<String>,
        /// Every archived file: also snapshots and other sidecar files, and partial copies
        /// a later revision superseded (all of them are kept in the store)
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Per camera and hour: recorded, arrived, verified, and why anything is missing
    Ledger {
        /// Camera id (configured name or MAC); all cameras when omitted
        #[arg(long)]
        camera: Option<String>,
        /// From this time [default: 24 h before --to]; RFC 3339 or `YYYY-MM-DD[ HH:MM]`
        #[arg(long)]
        from: Option<String>,
        /// Up to this time [default: now]
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Check every stored object against the store, and every copy in each mirror (a lost
    /// copy is copied again from a good one); exit 1 on anything missing or different
    Verify {
        /// Re-read every object's bytes instead of comparing metadata
        #[arg(long)]
        deep: bool,
        /// Check the daily manifests' hash chains and every object they list
        #[arg(long)]
        manifests: bool,
    },
    /// Check the setup and say what to fix
    Doctor,
    /// The camera's SMB share: Samba's configuration and the proof that it refuses deletes
    Samba {
        #[command(subcommand)]
        command: SambaCommand,
    },
    /// Catalog recordings already in the bucket (e.g. uploaded by an ossfs mount), as verified:
    /// camera folders found under any prefix, read as capture reads them; other files left alone.
    /// An interrupted run goes on where it stopped when run again
    Adopt {
        /// Only keys under this prefix
        #[arg(long, default_value = "")]
        prefix: String,
        /// Show the mapping (prefix -> camera, count, time range, where end times come from) and
        /// what is left alone; record nothing
        #[arg(long)]
        dry_run: bool,
        /// Compare a full listing with the catalog; exit 1 on any difference
        #[arg(long, conflicts_with = "dry_run")]
        check: bool,
    },
    /// Backfill from the camera's SD card (or a copy): MIJIA_RECORD_VIDEO clips camvault
    /// does not have yet, with their real times; what it has (same camera, time, bytes) is skipped
    Import {
        /// The card's root (or a copy of it), or its MIJIA_RECORD_VIDEO folder
        dir: PathBuf,
        /// Whose card it is: the camera's MAC or its name in the config (the card does not say)
        #[arg(long)]
        camera: String,
        /// Counts as JSON
        #[arg(long)]
        json: bool,
    },
    /// The camera itself over miIO: its SD card and NAS sync (needs `cameras.<MAC>.address` and a token)
    Camera {
        #[command(subcommand)]
        command: CameraCommand,
    },
    /// What the archive costs now and later (`--model` for a what-if, `plan` to choose tiering)
    Cost {
        #[command(subcommand)]
        command: Option<CostCommand>,
        /// A pure model of month-end bills instead of the catalog's figures
        #[arg(long)]
        model: bool,
        /// Model: recordings per day in GB
        #[arg(long, default_value_t = 10.0, requires = "model")]
        daily_gb: f64,
        /// Model: days in Standard before the transition [default: tiering.transition_days]
        #[arg(long, requires = "model")]
        transition_days: Option<u32>,
        /// Model: months to show
        #[arg(long, default_value_t = 12, requires = "model")]
        months: u32,
        /// Model: archive class [default: tiering.storage_class]
        #[arg(long, requires = "model")]
        class: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Bring footage back: plan (cost, time), request, wait, download, verify, merge
    #[command(
        after_help = "Examples:\n  camvault restore --camera door --from \"2026-11-20 14:00\" --to \"2026-11-20 15:00\" --dry-run\n  camvault restore --camera door --from 2026-11-20 --to 2026-11-21 --tier expedited --wait --merge\n  camvault restore list | status ID | cancel ID | drill"
    )]
    Restore {
        #[command(subcommand)]
        command: Option<RestoreCommand>,
        /// Camera id (configured name or MAC); all cameras when omitted
        #[arg(long)]
        camera: Option<String>,
        /// From this time: RFC 3339, or `YYYY-MM-DD[ HH:MM]` in the camera's zone
        #[arg(long)]
        from: Option<String>,
        /// Up to (excluding) this time, same forms as --from
        #[arg(long)]
        to: Option<String>,
        /// Restore speed [default: restore.tier]
        #[arg(long, value_enum)]
        tier: Option<TierArg>,
        /// Days the restored copies stay readable in the store [default: restore.days]
        #[arg(long)]
        days: Option<u32>,
        /// Print the plan (what comes from where, cost, time) and request nothing
        #[arg(long)]
        dry_run: bool,
        /// The longest wait you accept, in hours: of the copies of each clip (the main
        /// store, each mirror) the cheapest ready within it is taken; without it, the
        /// cheapest (a disk mirror or the cache: free and at once)
        #[arg(long, value_name = "HOURS")]
        max_wait: Option<f64>,
        /// Stay in the foreground until every clip is downloaded and verified
        #[arg(long)]
        wait: bool,
        /// Put the clips here [default: restore.dir/ID]
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Also join the clips into one merged.mp4 (needs ffmpeg)
        #[arg(long)]
        merge: bool,
        /// Do not ask for confirmation
        #[arg(long, short)]
        yes: bool,
        /// With --dry-run: the plan as JSON
        #[arg(long)]
        json: bool,
    },
    /// Fetch one clip by key (see `camvault ls`), restoring it first if it is archived
    Get {
        key: String,
        /// Directory to put it in [default: restore.dir/ID]
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        #[arg(long, value_enum)]
        tier: Option<TierArg>,
        /// Wait until it is here
        #[arg(long)]
        wait: bool,
        #[arg(long, short)]
        yes: bool,
    },
    /// The bucket's lifecycle rules that move every prefix holding recordings to the archive class
    Lifecycle {
        #[command(subcommand)]
        command: LifecycleCommand,
    },
    /// Alert channels: `alerts test [CHANNEL]` sends a test message
    Alerts {
        #[command(subcommand)]
        command: AlertsCommand,
    },
    /// Moments with motion, from the video index (works for archived footage at no cost);
    /// `--restore` restores exactly the matching clips
    Search {
        #[command(flatten)]
        args: search::Args,
    },
    /// The video index: what it holds; with --from/--to, index footage captured before
    /// (local copies now; archived clips only with --restore, after saying the cost)
    Index {
        /// Camera id (configured name or MAC)
        #[arg(long)]
        camera: Option<String>,
        /// From this time: RFC 3339, or `YYYY-MM-DD[ HH:MM]` in the camera's zone
        #[arg(long)]
        from: Option<String>,
        /// Up to (excluding) this time
        #[arg(long)]
        to: Option<String>,
        /// Restore the clips of the range that are only in the store, to index them
        #[arg(long)]
        restore: bool,
        /// With --restore: confirm the cost without asking
        #[arg(long, requires = "restore")]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
    /// The catalog itself: `catalog rebuild` makes one from the store's manifests and listing
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// The object store: `store test` checks credentials and access with a probe object;
    /// `store head` and `store restore` act on one object; `store worm` shows or sets the
    /// bucket's WORM retention
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// The mirror stores of `[[store.mirror]]`: `mirror init NAME` marks a disk mirror's
    /// folder on its mounted disk (docs/mirrors.md)
    Mirror {
        #[command(subcommand)]
        command: mirror::MirrorCommand,
    },
    /// Set the web interface's password (needed when `http.listen` is not loopback)
    ///
    /// Read twice from the terminal without echo, or one line from stdin when it is not a
    /// terminal. Only its Argon2 hash is written, as `http.password_hash` in the config,
    /// which stays mode 0600. It is the password of the web user `admin` (see `camvault
    /// user`). Restart `serve` afterwards.
    Passwd,
    /// The web interface's accounts: viewers (watch, search, export) and admins (also
    /// restores that cost money, approvals, users). Passwords are read from the terminal
    /// or one line of stdin, never from the command line
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// First run (and every later change): cameras, the camera's SMB account, the store, the
    /// protected share, the service, and what to type into the Xiaomi Home app. As root;
    /// asks on a terminal, shows the current answers as defaults
    Setup {
        /// Take the answers from this TOML file instead of asking (see docs/packaging.md)
        #[arg(long, value_name = "FILE")]
        answers: Option<PathBuf>,
    },
    /// Write the man pages or shell completions into DIR (used when building the package)
    #[command(hide = true)]
    Generate {
        #[arg(value_enum)]
        what: GenerateWhat,
        dir: PathBuf,
    },
    /// First run: init a directory, simulate a camera, and serve
    Demo {
        #[arg(long, default_value = "camvault-demo")]
        dir: PathBuf,
        /// Seconds between simulated clips
        #[arg(long, default_value_t = 3)]
        interval: u64,
        /// Stop after this many seconds (default: run until Ctrl-C)
        #[arg(long)]
        duration: Option<u64>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TierArg {
    Expedited,
    Standard,
    Bulk,
}

impl From<TierArg> for crate::store::RestoreTier {
    fn from(t: TierArg) -> Self {
        match t {
            TierArg::Expedited => crate::store::RestoreTier::Expedited,
            TierArg::Standard => crate::store::RestoreTier::Standard,
            TierArg::Bulk => crate::store::RestoreTier::Bulk,
        }
    }
}

#[derive(Subcommand)]
enum RestoreCommand {
    /// Recent restores and where they stand
    List {
        #[arg(long)]
        json: bool,
    },
    /// One restore, clip by clip
    Status {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Stop downloading a restore (restores the store started still finish and are billed)
    Cancel { id: i64 },
    /// Restore one small archived clip at the cheapest tier and check it byte for byte
    Drill {
        #[arg(long)]
        wait: bool,
    },
}

#[derive(Subcommand)]
enum CostCommand {
    /// Compare transition ages and archive classes for this site, and recommend one
    Plan {
        /// Recordings per day in GB [default: observed over the last 7 days, else 10]
        #[arg(long)]
        daily_gb: Option<f64>,
        /// Restores per month you expect (each of `--restore-gb`)
        #[arg(long, default_value_t = 1.0)]
        restores_per_month: f64,
        /// Size of a typical restore in GB (an hour of one camera is about 0.4 GB)
        #[arg(long, default_value_t = 1.0)]
        restore_gb: f64,
        /// How old the footage you restore typically is, in days
        #[arg(long, default_value_t = 3.0)]
        restore_age_days: f64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum LifecycleCommand {
    /// The bucket's rules in words, and what the config asks for
    Show,
    /// Add camvault's rule for every prefix holding recordings that no enabled rule moves to
    /// the configured class; the bucket's other rules are kept byte for byte. Then the same
    /// for each s3/oss mirror's bucket by its own plan (read-only mirrors are skipped; exit 1
    /// when a store could not be done)
    Apply,
    /// Exit 1 when a prefix holding recordings (template, adopted, or found in a listing) is
    /// not under an enabled rule to the configured class, or a rule would delete recordings;
    /// each s3/oss mirror's bucket against its own plan too
    Check,
}

#[derive(Subcommand)]
enum AlertsCommand {
    /// Send a test message to every channel, or to the one named
    Test { channel: Option<String> },
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Rebuild the catalog from the store alone (manifests, then every other object)
    Rebuild {
        /// Move an existing catalog aside and rebuild anyway
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Write, read back, check and remove a probe object under camvault-probe/; report speed
    Test,
    /// What the store says about one object: size, CRC-64, class, restore state (JSON)
    Head { key: String },
    /// One object's bytes (or `--range START-END` of them) from the store, to stdout or --out
    Get {
        key: String,
        /// Inclusive byte offsets, as `curl -r`: 0-1023 is the first KiB
        #[arg(long)]
        range: Option<String>,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Ask the store for a readable copy of one archived object
    Restore {
        key: String,
        /// How long the restored copy stays readable
        #[arg(long, default_value_t = 1)]
        days: u32,
        /// expedited, standard or bulk
        #[arg(long, default_value = "standard")]
        tier: String,
    },
    /// The bucket's WORM retention (on S3: its Object Lock, only shown): show it; OSS:
    /// `--days N` starts one, `--lock` makes it permanent (never shortened or removed)
    Worm {
        /// Start a WORM retention of N days (1 to 25550); lock it within 24 h with --lock
        #[arg(long, conflicts_with = "lock")]
        days: Option<u32>,
        /// Lock the WORM started with --days: irreversible
        #[arg(long)]
        lock: bool,
        /// Do not ask for confirmation (needed without a terminal)
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum GenerateWhat {
    Man,
    Completions,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user (asks for the password)
    Add {
        name: String,
        /// viewer or admin
        #[arg(long, default_value = "viewer")]
        role: String,
    },
    /// Delete a user; their sessions end
    Del { name: String },
    /// Set a user's password (and role, with --role); their sessions end
    Passwd {
        name: String,
        #[arg(long)]
        role: Option<String>,
    },
    /// List users, their roles and open sessions
    List {
        #[arg(long)]
        json: bool,
    },
    /// End every session of a user (log them out everywhere)
    Revoke { name: String },
}

#[derive(Subcommand)]
enum CameraCommand {
    /// Ask a camera once for its SD card and NAS sync state (exit 1 when it cannot be read
    /// or reports a problem)
    Probe {
        /// The camera's MAC or its name in the config
        camera: String,
        /// The answer as JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum SambaCommand {
    /// Print the Samba configuration for the inbox share, and the steps to set it up
    Config {
        /// Write it to FILE (default: `samba.config_file`) instead of printing it; as root, also
        /// give the inbox to the share's unprivileged user and camvault's group (mode 2770)
        #[arg(long, value_name = "FILE", num_args = 0..=1)]
        write: Option<Option<PathBuf>>,
    },
    /// Prove on the running share, as the camera user over SMB1, that deletes are refused
    /// and that the share neither acts as root nor offers SMB1 UNIX extensions
    Check,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(
        cli.command,
        Command::Ls { .. }
            | Command::Status { .. }
            | Command::Cost { .. }
            | Command::Ledger { .. }
            | Command::Verify { .. }
    ) {
        // `camvault ls | head` should end quietly, as other tools do, not panic on a
        // closed pipe. Only for commands that print listings: the others write to child
        // processes (smbclient, ffmpeg), where a broken pipe is an error to report.
        // SAFETY: setting a signal disposition before any thread is started.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    };
    code
}

/// Commands return their exit code; `Err` is a failure to run at all (exit 2).
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config_path = Config::locate(cli.config.as_deref());
    match cli.command {
        Command::Init { dir, force } => {
            init_logging(None, cli.log_format, cli.verbose);
            init::run(&dir, force)
        }
        Command::Demo {
            dir,
            interval,
            duration,
        } => {
            init_logging(None, cli.log_format, cli.verbose);
            demo::run(&dir, interval, duration)
        }
        Command::Setup { answers } => {
            init_logging(None, cli.log_format, cli.verbose);
            setup::run(&config_path, answers.as_deref())
        }
        Command::Generate { what, dir } => match what {
            GenerateWhat::Man => generate::man(&dir),
            GenerateWhat::Completions => generate::completions(&dir),
        },
        // Works on a config that does not load yet: a LAN `http.listen` without a password.
        Command::Passwd => {
            init_logging(None, cli.log_format, cli.verbose);
            passwd::run(&config_path)
        }
        // A what-if needs no data directory: without a config, the defaults.
        Command::Cost {
            command: None,
            model: true,
            daily_gb,
            transition_days,
            months,
            class,
            json,
        } => {
            let cfg = if config_path.exists() {
                Config::load(&config_path)?
            } else {
                Config::default()
            };
            init_logging(Some(&cfg), cli.log_format, cli.verbose);
            cost::run_model(
                &cfg,
                cost::ModelArgs {
                    daily_gb,
                    transition_days,
                    months,
                    class,
                    json,
                },
            )
        }
        command => {
            let cfg = Config::load(&config_path)?;
            init_logging(Some(&cfg), cli.log_format, cli.verbose);
            match command {
                Command::Serve => serve::run(cfg),
                Command::Ingest { .. } => ingest::run(cfg),
                Command::Status { json } => status::run(cfg, json),
                Command::Ls {
                    camera,
                    from,
                    to,
                    all,
                    json,
                } => ls::run(cfg, camera, from, to, all, json),
                Command::Ledger { camera, from, to, json } => ledger::run(cfg, camera, from, to, json),
                Command::Verify { deep, manifests } => verify::run(cfg, deep, manifests),
                Command::Doctor => doctor::run(cfg),
                Command::Store { command } => match command {
                    StoreCommand::Test => store::test(cfg),
                    StoreCommand::Head { key } => store::head(cfg, &key),
                    StoreCommand::Get { key, range, out } => store::get(cfg, &key, range.as_deref(), out.as_deref()),
                    StoreCommand::Restore { key, days, tier } => store::restore(cfg, &key, days, &tier),
                    StoreCommand::Worm { days, lock, yes } => store::worm(cfg, days, lock, yes),
                },
                Command::Mirror { command } => mirror::run(cfg, command),
                Command::Lifecycle { command } => lifecycle::run(
                    cfg,
                    match command {
                        LifecycleCommand::Show => "show",
                        LifecycleCommand::Apply => "apply",
                        LifecycleCommand::Check => "check",
                    },
                ),
                Command::Cost {
                    command:
                        Some(CostCommand::Plan {
                            daily_gb,
                            restores_per_month,
                            restore_gb,
                            restore_age_days,
                            json,
                        }),
                    ..
                } => cost::run_plan(
                    &cfg,
                    cost::PlanArgs {
                        daily_gb,
                        restores_per_month,
                        restore_gb,
                        restore_age_days,
                        json,
                    },
                ),
                Command::Cost { json, .. } => cost::run(&cfg, json),
                Command::Restore { command: Some(c), .. } => match c {
                    RestoreCommand::List { json } => restore::list(cfg, json),
                    RestoreCommand::Status { id, json } => restore::status(cfg, id, json),
                    RestoreCommand::Cancel { id } => restore::cancel(cfg, id),
                    RestoreCommand::Drill { wait } => restore::drill(cfg, wait),
                },
                Command::Restore {
                    command: None,
                    camera,
                    from,
                    to,
                    tier,
                    days,
                    dry_run,
                    max_wait,
                    wait,
                    out,
                    merge,
                    yes,
                    json,
                } => restore::run(
                    cfg,
                    restore::Args {
                        camera,
                        from,
                        to,
                        tier: tier.map(Into::into),
                        days,
                        dry_run,
                        max_wait,
                        wait,
                        out,
                        merge,
                        yes,
                        json,
                    },
                ),
                Command::Get {
                    key,
                    out,
                    tier,
                    wait,
                    yes,
                } => restore::get(cfg, key, out, tier.map(Into::into), wait, yes),
                Command::Alerts {
                    command: AlertsCommand::Test { channel },
                } => alerts::test(cfg, channel),
                Command::Catalog {
                    command: CatalogCommand::Rebuild { force },
                } => catalog::rebuild(cfg, force),
                Command::Search { args } => search::run(cfg, args),
                Command::Index {
                    camera,
                    from,
                    to,
                    restore,
                    yes,
                    json,
                } => index::run(
                    cfg,
                    index::Args {
                        camera,
                        from,
                        to,
                        restore,
                        yes,
                        json,
                    },
                ),
                Command::Adopt { prefix, dry_run, check } => adopt::run(cfg, &prefix, dry_run, check),
                Command::Import { dir, camera, json } => import::run(cfg, &dir, &camera, json),
                Command::Camera {
                    command: CameraCommand::Probe { camera, json },
                } => camera::probe(&cfg, &camera, json),
                Command::Samba {
                    command: SambaCommand::Config { write },
                } => samba::config(&cfg, write.as_ref().map(|w| w.as_deref())),
                Command::Samba {
                    command: SambaCommand::Check,
                } => samba::check(&cfg),
                Command::User { command } => match command {
                    UserCommand::Add { name, role } => user::add(cfg, &name, &role),
                    UserCommand::Del { name } => user::del(cfg, &name),
                    UserCommand::Passwd { name, role } => user::passwd(cfg, &name, role.as_deref()),
                    UserCommand::List { json } => user::list(cfg, json),
                    UserCommand::Revoke { name } => user::revoke(cfg, &name),
                },
                Command::Init { .. }
                | Command::Demo { .. }
                | Command::Passwd
                | Command::Generate { .. }
                | Command::Setup { .. } => {
                    unreachable!("handled above")
                }
            }
        }
    }
}

fn init_logging(cfg: Option<&Config>, format: Option<LogFormatArg>, verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let level = match verbose {
        0 => cfg.map_or_else(|| "info".into(), |c| c.log.level.as_filter().to_string()),
        1 => "debug".into(),
        _ => "trace".into(),
    };
    let filter = EnvFilter::try_from_env("CAMVAULT_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let json = match format {
        Some(LogFormatArg::Json) => true,
        Some(LogFormatArg::Text) => false,
        None => cfg.is_some_and(|c| c.log.format == LogFormat::Json),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else if generate::stderr_is_journal() {
        // The journal stamps every line itself and shows no colours.
        builder.with_target(false).with_ansi(false).without_time().init();
    } else {
        use std::io::IsTerminal;
        builder
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .init();
    }
}

/// A runtime for commands that talk to the store.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

use crate::report::{local_time, rfc3339};

/// The full path of `prog` on `$PATH`, if any.
pub fn which(prog: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(prog))
            .find(|p| p.is_file())
    })
}
