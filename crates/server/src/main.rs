//! `lifecert-server`: see `lifecert-server --help`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lifecert_server::config::Config;
use lifecert_server::{ServerError, build_state, serve_state};

#[derive(Debug, Parser)]
#[command(
    name = "lifecert-server",
    version,
    about = "Reference central server for lifecert kiosks"
)]
struct Cli {
    /// The configuration file.
    #[arg(long, default_value = "server.toml", global = true)]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (default).
    Serve,
    /// Validate the configuration and exit.
    CheckConfig,
    /// Print a one-time device registration token.
    CreateToken {
        /// Validity in hours.
        #[arg(long, default_value_t = 24)]
        ttl_hours: u32,
    },
    /// Create a staff operator and print its credential `id:secret` once.
    CreateOperator { name: String },
    /// Insert the demo roster (idempotent).
    SeedDemo,
    /// Write a throwaway CA and a localhost server certificate into DIR
    /// (ca.pem, server.pem, server.key) for local testing.
    GenDevCert { dir: PathBuf },
    /// Store a face template made by the kiosk's `lifecert enroll-template
    /// -o FILE.json` for a person of the roster; prints the new version.
    PutTemplate {
        /// The person's ID number (must be in the roster).
        #[arg(long)]
        id: String,
        /// The template file.
        file: PathBuf,
    },
    /// Read the admin password from standard input and print its argon2id
    /// hash for `[admin] password_hash`.
    HashPassword,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Some(Command::GenDevCert { dir }) = &cli.command {
        return match lifecert_server::testing::dev_tls(dir) {
            Ok(t) => {
                println!(
                    "wrote {} and the server certificate/key",
                    t.ca_path.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("lifecert-server: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::HashPassword) = &cli.command {
        let mut line = String::new();
        if let Err(e) = std::io::stdin().read_line(&mut line) {
            eprintln!("lifecert-server: cannot read the password from stdin: {e}");
            return ExitCode::FAILURE;
        }
        let password = line.trim_end_matches(['\r', '\n']);
        return match lifecert_server::tools::hash_password(password) {
            Ok(h) => {
                println!("{h}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("lifecert-server: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match Config::load(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(cli.command.unwrap_or(Command::Serve), config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lifecert-server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> Result<(), ServerError> {
    match command {
        Command::CheckConfig => {
            println!("configuration OK");
            Ok(())
        }
        Command::Serve => {
            let state = build_state(config).await?;
            let server = serve_state(state, None).await?;
            println!("listening on {}", server.url());
            shutdown_signal().await;
            eprintln!("shutting down");
            server.shutdown().await;
            Ok(())
        }
        Command::CreateToken { ttl_hours } => {
            let state = build_state(config).await?;
            let token = lifecert_server::create_token(state.storage.as_ref(), ttl_hours).await?;
            println!("{token}");
            Ok(())
        }
        Command::CreateOperator { name } => {
            let state = build_state(config).await?;
            let cred = lifecert_server::create_operator(state.storage.as_ref(), &name).await?;
            println!("{cred}");
            Ok(())
        }
        Command::GenDevCert { .. } | Command::HashPassword => Ok(()),
        Command::PutTemplate { id, file } => {
            let shown = file.display().to_string();
            let text = std::fs::read_to_string(&file).map_err(|e| {
                ServerError::Tool(format!("cannot read {shown}: {e}; check the path"))
            })?;
            let template = lifecert_server::tools::parse_template_file(&shown, &text)
                .map_err(|e| ServerError::Tool(e.to_string()))?;
            let state = build_state(config).await?;
            let version = lifecert_server::tools::put_template(&state, &id, &template)
                .await
                .map_err(|e| ServerError::Tool(e.to_string()))?;
            println!("template stored, version {version}");
            Ok(())
        }
        Command::SeedDemo => {
            let state = build_state(config).await?;
            let n = lifecert_server::seed::seed_demo(
                state.storage.as_ref(),
                &state.subject,
                lifecert_server::seed::today_cst(),
            )
            .await?;
            println!("seeded {n} demo persons");
            Ok(())
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
