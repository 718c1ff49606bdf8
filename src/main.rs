//! lifecert: the kiosk binary. CLI → config → logging → adapters → the job.
//!
//! Exit codes: 0 success; 1 a check ran and said no (later: `compare`,
//! `verify`); 2 bad input or configuration (the message says what to fix).

// On Windows the kiosk is a GUI program: no console window behind it. The
// subcommands' output still reaches a pipe or file (`lifecert.exe status | more`).
#![cfg_attr(windows, windows_subsystem = "windows")]

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use lifecert::config::{self, Config};
use lifecert::store::Store;
use lifecert::{analysis, eval, logging, verify};
use time::OffsetDateTime;

/// Self-service kiosk for pensioners' annual benefit-eligibility certification.
#[derive(Debug, Parser)]
#[command(name = "lifecert", version, about)]
struct Cli {
    /// The kiosk config file (default: the embedded defaults; see kiosk.toml).
    /// Environment overrides: LIFECERT__SECTION__KEY=value.
    #[arg(long, short, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Kiosk window: a normal window instead of full screen (development).
    #[arg(long)]
    windowed: bool,
    /// Kiosk window: read intents from standard input (`start`, `accept`,
    /// `type 1101…`, `ready`, `home`, …) and print `screen <name>` on every
    /// screen change. Used by scripts/screenshots.sh.
    #[arg(long, hide = true)]
    automation: bool,
    /// Kiosk window: close after this many seconds (smoke tests).
    #[arg(long, value_name = "SECS")]
    quit_after: Option<f64>,
    /// Start the kiosk window, print the time to the attract screen and the
    /// memory in use, then exit (start-up benchmark).
    #[arg(long)]
    bench_startup: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check the configuration and the durable store and print their status
    /// (no window).
    Status,
    /// Check a config file: print the effective config (secrets redacted) and
    /// exit 0, or print every error and exit 2.
    CheckConfig {
        /// The file to check (default: --config, else the embedded defaults).
        path: Option<PathBuf>,
    },
    /// Print udev rules that name the card reader and the printer
    /// /dev/lifecert/card-reader and /dev/lifecert/printer by the USB ids in
    /// [peripherals] (the Debian package writes them to
    /// /etc/udev/rules.d/70-lifecert.rules).
    UdevRules,
    /// Simulate a peripheral on a pty (tests, demos, screenshots).
    #[cfg(unix)]
    Simulate {
        #[command(subcommand)]
        device: SimDevice,
    },
    /// The durable result queue (outbox).
    Queue {
        #[command(subcommand)]
        action: QueueAction,
    },
    /// Register this kiosk with a central server (once): creates the device
    /// key if missing and saves <storage.data_dir>/server.json.
    Register {
        /// The server's base URL, e.g. https://lifecert.example.org.
        #[arg(long)]
        server: String,
        /// The one-time registration token from the server's admin page.
        #[arg(long)]
        token: String,
        /// A name for this kiosk on the admin page (default: the device id).
        #[arg(long)]
        name: Option<String>,
        /// The site (default: device.site).
        #[arg(long)]
        site: Option<String>,
    },
    /// Hash a staff PIN (read from standard input) for `session.staff_pin_hash`.
    HashPin,
    /// List every voice prompt as `clip<TAB>text` (input of scripts/voice/build.sh).
    Prompts,
    /// Per-frame face measures of a video, GIF, image directory or photo.
    /// Exit 0 done, 2 error.
    Analyze {
        /// A video (mp4, avi...), a GIF, a directory of images or one image.
        input: PathBuf,
        /// One JSON object per frame.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Comma-separated values with a header.
        #[arg(long)]
        csv: bool,
    },
    /// Compare the faces in two photos. Exit 0 same person, 1 different people
    /// (at matching.threshold), 2 error (no face, unreadable file).
    Compare { first: PathBuf, second: PathBuf },
    /// Build a face template file from one or more photos of one person.
    /// Exit 0 written, 2 error.
    EnrollTemplate {
        /// Photos of the person (3-5 good frontal photos are best).
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// The template file to write.
        #[arg(short, long, required_unless_present = "id")]
        output: Option<PathBuf>,
        /// Instead of a file: enrol this ID number in the kiosk's own
        /// template store (<storage.data_dir>/templates), as staff enrolment does.
        #[arg(long, conflicts_with = "output")]
        id: Option<String>,
    },
    /// Run the whole liveness-and-match session on a recording, headless.
    /// Exit 0 passed, 1 not passed, 2 error.
    Verify {
        /// The enrolled template (from enroll-template); without it only
        /// liveness is judged.
        #[arg(long)]
        template: Option<PathBuf>,
        /// A video, GIF, image directory or single photo.
        #[arg(long)]
        input: PathBuf,
        /// Fixed challenges, e.g. `blink,left` (instead of a random plan).
        #[arg(long, conflicts_with = "seed")]
        challenges: Option<String>,
        /// Seed of the random challenge plan (default 0).
        #[arg(long)]
        seed: Option<u64>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Replay the recording in a loop until the check finishes (the
        /// engine's total timeout still ends it).
        #[arg(long = "loop")]
        looping: bool,
    },
    /// Measure verification, liveness and attack detection on a labelled
    /// manifest (see docs/EVALUATION.md) and print a markdown report.
    /// Exit 0 written, 2 error.
    Eval {
        /// The manifest (tab-separated: file, identity, state_tags, ...;
        /// paths relative to its folder).
        #[arg(long)]
        manifest: PathBuf,
        /// Write the report here instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// The attack suite made by `lifecert attacks make` (APCER per species).
        #[arg(long, value_name = "DIR")]
        attacks: Option<PathBuf>,
    },
    /// The presentation-attack suite (see docs/EVALUATION.md).
    Attacks {
        #[command(subcommand)]
        action: AttacksAction,
    },
}

#[derive(Debug, Subcommand)]
enum AttacksAction {
    /// Generate the attack recordings (mp4 + .scene.json) from the shared test
    /// faces. Exit 0 written, 2 error.
    Make {
        /// Where to write them (created; build output, never commit it).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The shared test faces folder.
        #[arg(long, value_name = "DIR", default_value = "../shared/testdata/faces")]
        faces: PathBuf,
        /// Seed of the hand sway and sensor noise.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Only the recordings whose name contains this (e.g. `injected`).
        #[arg(long, value_name = "TEXT")]
        only: Option<String>,
    },
}

#[cfg(unix)]
#[derive(Debug, Subcommand)]
enum SimDevice {
    /// A resident ID card reader (SAM serial protocol) on a new pty, reachable
    /// at --link. Commands on standard input: `place [FILE]`, `remove`,
    /// `moved` (the next read fails with 41), `badsum` (the next answer has a
    /// bad checksum), `garbage`, `slow MS`, `silent`, `answer`, `quit`.
    IdReader {
        /// Where to put the symlink to the pty (the kiosk's card_reader.port).
        #[arg(long, value_name = "PATH")]
        link: PathBuf,
        /// The card on the reader at start (JSON, see docs/peripherals.md);
        /// without it the reader starts empty (answers 80 no card).
        #[arg(long, value_name = "FILE")]
        card: Option<PathBuf>,
        /// Delay every answer by this many milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 0)]
        slow_ms: u64,
    },
    /// An ESC/POS receipt printer on a new pty, reachable at --link. Prints
    /// every decoded receipt as one JSON line on standard output. Commands on
    /// standard input: `paper out`, `paper low`, `paper ok`, `cover open`,
    /// `cover closed`, `silent`, `answer`, `quit`.
    Printer {
        /// Where to put the symlink to the pty (the kiosk's printer.port).
        #[arg(long, value_name = "PATH")]
        link: PathBuf,
        /// Start with the paper roll empty.
        #[arg(long)]
        paper_out: bool,
    },
}

#[derive(Debug, Subcommand)]
enum QueueAction {
    /// Pending, acknowledged and dead-lettered counts, and the oldest pending age.
    Status,
    /// Send every pending result now (ignoring backoff) until the queue is
    /// empty or a round fails; prints the counts. Exit 1 when it failed.
    Flush,
    /// Put dead-lettered results back into the queue.
    RetryDead,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lifecert: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn load_config(path: Option<&PathBuf>) -> Result<Config, ExitCode> {
    Config::load(path.map(PathBuf::as_path)).map_err(|e| {
        eprintln!("lifecert: the configuration is not valid:\n{e}");
        ExitCode::from(2)
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::CheckConfig { path }) => {
            let path = path.or(cli.config);
            let config = match load_config(path.as_ref()) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            print!("{}", config.to_redacted_toml());
            for warning in config.warnings() {
                eprintln!("warning: {warning}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Queue { action }) => {
            logging::init_stderr();
            let config = match load_config(cli.config.as_ref()) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            match action {
                QueueAction::Status => {
                    let opened = Store::open(&config.storage.db_path())?;
                    let status = opened.store.queue_status(OffsetDateTime::now_utc())?;
                    println!("{status}");
                    Ok(ExitCode::SUCCESS)
                }
                QueueAction::RetryDead => {
                    let opened = Store::open(&config.storage.db_path())?;
                    let n = opened.store.retry_dead(OffsetDateTime::now_utc())?;
                    println!("{n} dead-lettered result(s) put back into the queue");
                    Ok(ExitCode::SUCCESS)
                }
                QueueAction::Flush => queue_flush(&config),
            }
        }
        Some(Command::Register {
            server,
            token,
            name,
            site,
        }) => {
            logging::init_stderr();
            let config = match load_config(cli.config.as_ref()) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            register(&config, server, token, name, site)
        }
        Some(Command::UdevRules) => {
            let config = match load_config(cli.config.as_ref()) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            print!(
                "{}",
                lifecert::peripherals::udev::rules(&config.peripherals)
            );
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(unix)]
        Some(Command::Simulate { device }) => {
            logging::init_stderr();
            match device {
                SimDevice::IdReader {
                    link,
                    card,
                    slow_ms,
                } => lifecert::peripherals::sim_reader::run(
                    lifecert::peripherals::sim_reader::Options {
                        link,
                        card,
                        slow: std::time::Duration::from_millis(slow_ms),
                    },
                )?,
                SimDevice::Printer { link, paper_out } => lifecert::peripherals::sim_printer::run(
                    lifecert::peripherals::sim_printer::Options { link, paper_out },
                )?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::HashPin) => hash_pin(),
        Some(Command::Prompts) => {
            let mut out = std::io::stdout().lock();
            for prompt in lifecert_core::flow::Prompt::all() {
                writeln!(out, "{}\t{}", prompt.clip(), prompt.text_zh())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Analyze { input, json, csv }) => {
            logging::init_stderr();
            let config = match load_config(cli.config.as_ref()) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let format = if json {
                analysis::Format::Json
            } else if csv {
                analysis::Format::Csv
            } else {
                analysis::Format::Table
            };
            let mut out = std::io::stdout().lock();
            Ok(ExitCode::from(analysis::analyze(
                &config, &input, format, &mut out,
            )))
        }
        Some(Command::Compare { first, second }) => {
            logging::init_stderr();
            let config = match load_config(cli.config.as_ref()) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let mut out = std::io::stdout().lock();
            Ok(ExitCode::from(analysis::compare(
                &config, &first, &second, &mut out,
            )))
        }
        Some(Command::Verify {
            template,
            input,
            challenges,
            seed,
            json,
            looping,
        }) => {
            logging::init_stderr();
            let config = match load_config(cli.config.as_ref()) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let challenges = match challenges.as_deref().map(verify::parse_challenges) {
                None => None,
                Some(Ok(c)) => Some(c),
                Some(Err(e)) => {
                    eprintln!("lifecert: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let request = verify::Request {
                template: template.as_deref(),
                input: &input,
                challenges,
                seed: seed.unwrap_or(0),
                json,
                looping,
            };
            let mut out = std::io::stdout().lock();
            Ok(ExitCode::from(verify::verify(&config, &request, &mut out)))
        }
        Some(Command::Attacks {
            action:
                AttacksAction::Make {
                    out,
                    faces,
                    seed,
                    only,
                },
        }) => {
            logging::init_stderr();
            let request = lifecert::attacks::Request {
                faces: &faces,
                out: &out,
                seed,
                only: only.as_deref(),
            };
            let mut stdout = std::io::stdout().lock();
            Ok(ExitCode::from(lifecert::attacks::make(
                &request,
                &mut stdout,
            )))
        }
        Some(Command::Eval {
            manifest,
            out,
            attacks,
        }) => {
            logging::init_stderr();
            let config = match load_config(cli.config.as_ref()) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let request = eval::Request {
                manifest: &manifest,
                attacks: attacks.as_deref(),
                command: eval_command_line(),
            };
            match out {
                None => {
                    let mut stdout = std::io::stdout().lock();
                    Ok(ExitCode::from(eval::eval(&config, &request, &mut stdout)))
                }
                Some(path) => {
                    // Written only when complete: a failed run leaves no half report.
                    let mut buffer = Vec::new();
                    let code = eval::eval(&config, &request, &mut buffer);
                    if code == analysis::EXIT_OK {
                        std::fs::write(&path, &buffer)
                            .with_context(|| format!("cannot write {}", path.display()))?;
                    }
                    Ok(ExitCode::from(code))
                }
            }
        }
        Some(Command::EnrollTemplate { images, output, id }) => {
            logging::init_stderr();
            let config = match load_config(cli.config.as_ref()) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let mut out = std::io::stdout().lock();
            match (output, id) {
                (Some(output), _) => Ok(ExitCode::from(analysis::enroll(
                    &config, &images, &output, &mut out,
                ))),
                (None, Some(id)) => enrol_in_store(&config, &images, &id, &mut out),
                (None, None) => Ok(ExitCode::from(2)),
            }
        }
        Some(Command::Status) => status(cli.config.as_ref()),
        None => kiosk_window(&cli),
    }
}

/// The command line as typed (program name shortened to `lifecert`), for the
/// top of the evaluation report.
fn eval_command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quoted: Vec<String> = args
        .iter()
        .map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"') {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a.clone()
            }
        })
        .collect();
    format!("lifecert {}", quoted.join(" "))
}

/// `lifecert register`.
fn register(
    config: &Config,
    server: String,
    token: String,
    name: Option<String>,
    site: Option<String>,
) -> anyhow::Result<ExitCode> {
    use lifecert::sync::register::{RegisterOptions, register};
    if let Err(why) = config::check_server_url(&server) {
        eprintln!("lifecert: --server {server}: {why}");
        return Ok(ExitCode::from(2));
    }
    let options = RegisterOptions {
        server_url: server,
        token,
        device_id: config.device.id.clone(),
        name: name.unwrap_or_default(),
        site: site.unwrap_or_else(|| config.device.site.clone()),
        device_key_path: config.server.device_key_path.clone(),
        data_dir: config.storage.data_dir.clone(),
        ca_path: config.server.ca_path.clone(),
        timeout: config.server.request_timeout,
    };
    match register(&options) {
        Ok(r) => {
            println!(
                "registered as {} with {}; saved {}",
                r.device_id,
                r.server_url,
                config
                    .storage
                    .data_dir
                    .join(lifecert::sync::register::REGISTRATION_FILE)
                    .display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("lifecert: {}", lifecert::sync::chain(&e));
            Ok(ExitCode::from(2))
        }
    }
}

/// `lifecert queue flush`.
fn queue_flush(config: &Config) -> anyhow::Result<ExitCode> {
    use lifecert::sync::worker::SyncWorker;
    use lifecert::sync::{Client, ClientOptions, SyncStatus};
    let Some(server) = lifecert::sync::register::resolve(config)
        .map_err(|e| anyhow::anyhow!(lifecert::sync::chain(&e)))?
    else {
        eprintln!(
            "lifecert: this kiosk is not registered: run `lifecert register --server URL --token TOKEN` first"
        );
        return Ok(ExitCode::from(2));
    };
    let client = Client::new(&ClientOptions {
        base_url: server.url.clone(),
        ca_path: config.server.ca_path.clone(),
        timeout: config.server.request_timeout,
    })
    .map_err(|e| anyhow::anyhow!(lifecert::sync::chain(&e)))?
    .signed(&server.device_id, server.key);
    let store = Store::open(&config.storage.db_path())?.store;
    let mut worker = SyncWorker::new(store, Box::new(client), SyncStatus::shared());
    let report = worker.flush(OffsetDateTime::now_utc());
    let status = worker.store().queue_status(OffsetDateTime::now_utc())?;
    println!(
        "sent: {} acknowledged, {} dead-lettered",
        report.acked, report.dead
    );
    if let Some((_, why)) = &report.retry {
        println!("stopped early, will retry: {why}");
    }
    if let Some(alert) = &report.stopped {
        println!("sync stopped: {alert}");
    }
    println!("{status}");
    Ok(if report.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn hash_pin() -> anyhow::Result<ExitCode> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Staff PIN (4-8 digits): ");
        std::io::stderr().flush().ok();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the PIN from standard input")?;
    match config::hash_pin(line.trim()) {
        Ok(hash) => {
            println!("{hash}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("lifecert: {e}");
            Ok(ExitCode::from(2))
        }
    }
}

/// `enroll-template --id`: build the template and store it in the kiosk's
/// template store under the ID number (never printed in full).
fn enrol_in_store(
    config: &Config,
    images: &[PathBuf],
    id: &str,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    use lifecert::kiosk::templates::{DirTemplates, TemplateStore};
    let person = match lifecert_core::id::IdNumber::parse(id) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("lifecert: --id: {}", e.user_message_zh());
            return Ok(ExitCode::from(2));
        }
    };
    let dir = config.storage.data_dir.join("templates");
    let store = match DirTemplates::open(&dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lifecert: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let tmp = dir.join(".enrol.tmp.json");
    let code = analysis::enroll(config, images, &tmp, out);
    if code != 0 {
        let _ = std::fs::remove_file(&tmp);
        return Ok(ExitCode::from(code));
    }
    let template = lifecert_vision::Template::load(&tmp);
    let _ = std::fs::remove_file(&tmp);
    match template
        .map_err(|e| e.to_string())
        .and_then(|t| store.put(&person, &t))
    {
        Ok(()) => {
            writeln!(out, "enrolled {} in {}", person.masked(), dir.display())?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("lifecert: cannot store the template: {e}");
            Ok(ExitCode::from(2))
        }
    }
}

/// The kiosk's main job: the full-screen certification window.
fn kiosk_window(cli: &Cli) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let config = match load_config(cli.config.as_ref()) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let _log = logging::init(&config.storage.log_dir, config.storage.log_retention_files);
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        "lifecert kiosk starting"
    );
    for warning in config.warnings() {
        tracing::warn!("{warning}");
        eprintln!("warning: {warning}");
    }
    let run = lifecert::ui::RunOptions {
        windowed: cli.windowed,
        automation: cli.automation,
        quit_after: cli
            .quit_after
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(std::time::Duration::from_secs_f64),
        bench_started: cli.bench_startup.then_some(started),
    };
    match lifecert::ui::run(&config, run) {
        Ok(()) => {
            tracing::info!("lifecert kiosk stopped");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("lifecert: {e:#}");
            Ok(ExitCode::from(2))
        }
    }
}

/// Checks config, logging and the durable store, and reports them (no window).
fn status(config_path: Option<&PathBuf>) -> anyhow::Result<ExitCode> {
    let config = match load_config(config_path) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let log = logging::init(&config.storage.log_dir, config.storage.log_retention_files);
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "lifecert starting");
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let db = config.storage.db_path();
    let opened = Store::open(&db)
        .with_context(|| format!("cannot open the local store at {}", db.display()))?;
    if let Some(moved) = &opened.quarantined {
        tracing::error!(
            quarantined = %moved.display(),
            "the local database was corrupt; it was moved aside for staff and a fresh one created"
        );
    }
    let now = OffsetDateTime::now_utc();
    let mut store = opened.store;
    // Retention (PIPL art. 19): acknowledged queue rows and old audit entries go.
    let retention =
        time::Duration::try_from(config.storage.retention()).unwrap_or(time::Duration::days(90));
    match store.purge(now, retention) {
        Ok(0) => {}
        Ok(n) => tracing::info!(rows = n, "purged rows past the retention period"),
        Err(e) => tracing::warn!("retention purge failed: {}", logging::chain(&e)),
    }
    let status = store.queue_status(now)?;

    println!(
        "lifecert {} — 社保待遇资格认证自助终端",
        env!("CARGO_PKG_VERSION")
    );
    println!();
    println!(
        "Configuration: {}",
        match config_path {
            Some(p) => p.display().to_string(),
            None => "embedded defaults (kiosk.toml)".to_string(),
        }
    );
    println!(
        "Server:        {}",
        config
            .server
            .url
            .as_deref()
            .map(str::to_string)
            .or_else(|| {
                lifecert::sync::register::Registration::load(&config.storage.data_dir)
                    .ok()
                    .flatten()
                    .map(|r| format!("{} (registered as {})", r.server_url, r.device_id))
            })
            .unwrap_or_else(|| "not registered (run `lifecert register`)".to_string())
    );
    println!("Data:          {}", db.display());
    match &log.file_dir {
        Some(dir) => println!("Logs:          {}", dir.display()),
        None => println!("Logs:          stderr only (the log directory is not usable)"),
    }
    // The camera's identity and whether it passes the trusted-device check.
    for (i, line) in lifecert::camera::trust::operator_report(&config.camera)
        .iter()
        .enumerate()
    {
        let label = if i == 0 { "Camera:" } else { "" };
        println!("{label:<15}{line}");
    }
    if let Some(moved) = &opened.quarantined {
        println!(
            "Store:         was corrupt; moved aside to {}",
            moved.display()
        );
    }
    println!();
    println!("Result queue:");
    println!("{status}");
    for warning in config.warnings() {
        println!("warning: {warning}");
    }
    tracing::info!("lifecert status done");
    Ok(ExitCode::SUCCESS)
}
