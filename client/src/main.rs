//! `tideline`: the command-line client. It parses arguments, calls the library, and prints
//! JSON: results on stdout, errors on stderr as `{"error": code, "message": ...}`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tideline_client::replica::{parse_conflict_id, parse_doc_id};
use tideline_client::{json, ClientError, Replica, WatchEvent, Written};
use tokio_util::sync::CancellationToken;

/// Exit code for a failed command.
const EXIT_FAILURE: u8 = 1;

/// Exit code for arguments that do not parse.
const EXIT_USAGE: u8 = 2;

/// Tideline client: a replica in a local folder that works offline and syncs with a server.
///
/// Every command prints JSON on stdout; errors print {"error": CODE, "message": ...} on stderr
/// and exit non-zero.
#[derive(Parser)]
#[command(name = "tideline", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The replica folder every command but `init` works on.
#[derive(clap::Args)]
struct ReplicaArg {
    /// The replica folder.
    #[arg(long, env = "TIDELINE_REPLICA", value_name = "DIR")]
    replica: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Create a replica in DIR (or give an existing one a new server URL or token).
    Init {
        #[command(flatten)]
        replica: ReplicaArg,
        /// The server's URL, like http://127.0.0.1:7700.
        #[arg(long, env = "TIDELINE_SERVER", value_name = "URL")]
        server: String,
        /// The JWT the server issued for you.
        #[arg(
            long,
            env = "TIDELINE_TOKEN",
            value_name = "TOKEN",
            hide_env_values = true
        )]
        token: String,
    },
    /// Create a document from a JSON object; prints {"id", "event"}.
    Create {
        #[command(flatten)]
        replica: ReplicaArg,
        /// The group (one your token grants).
        group: String,
        /// The collection.
        collection: String,
        /// The document, a JSON object.
        json: String,
    },
    /// Change fields of a document; prints {"id", "event"}.
    ///
    /// JSON_PATCH is an object whose keys are dot-separated field paths and whose values are
    /// the new values, null removing the field: '{"address.city": "Paris", "note": null}'. A
    /// key that itself contains a '.' cannot be addressed from the command line.
    Update {
        #[command(flatten)]
        replica: ReplicaArg,
        /// The group.
        group: String,
        /// The collection.
        collection: String,
        /// The document id (hex).
        id: String,
        /// The patch, a JSON object.
        json_patch: String,
    },
    /// Remove a document; prints {"id", "event"}.
    Remove {
        #[command(flatten)]
        replica: ReplicaArg,
        /// The group.
        group: String,
        /// The collection.
        collection: String,
        /// The document id (hex).
        id: String,
    },
    /// Print a document, with its id under "_id".
    Get {
        #[command(flatten)]
        replica: ReplicaArg,
        /// The group.
        group: String,
        /// The collection.
        collection: String,
        /// The document id (hex).
        id: String,
    },
    /// Print every document of a collection, one JSON object per line, each with "_id".
    Find {
        #[command(flatten)]
        replica: ReplicaArg,
        /// The group.
        group: String,
        /// The collection.
        collection: String,
    },
    /// Sync every group of the token with the server, both ways; prints what it cost.
    Sync {
        #[command(flatten)]
        replica: ReplicaArg,
    },
    /// List the conflicts assigned to you, as a JSON array.
    Conflicts {
        #[command(flatten)]
        replica: ReplicaArg,
    },
    /// Resolve a conflict: JSON is the value to keep (for a remove or create conflict, the
    /// whole document), or null to delete the field (remove the document).
    Resolve {
        #[command(flatten)]
        replica: ReplicaArg,
        /// The conflict id (hex), from `conflicts`.
        conflict_id: String,
        /// The decision, JSON.
        json: String,
    },
    /// Print the root digest of a group's hash tree.
    Root {
        #[command(flatten)]
        replica: ReplicaArg,
        /// The group.
        group: String,
    },
    /// Stay in sync until ctrl-c, printing one JSON line per sync, pushed record or
    /// reconnection.
    Watch {
        #[command(flatten)]
        replica: ReplicaArg,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            if !error.use_stderr() {
                // --help and --version: not errors.
                let _ = error.print();
                return ExitCode::SUCCESS;
            }
            print_error("usage", &error.render().to_string());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let code = error
                .downcast_ref::<ClientError>()
                .map_or("internal", ClientError::code);
            print_error(code, &error.to_string());
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn print_error(code: &str, message: &str) {
    eprintln!(
        "{}",
        serde_json::json!({"error": code, "message": message.trim_end()})
    );
}

fn print(value: &serde_json::Value) {
    println!("{value}");
}

fn print_written(written: Written) {
    print(&serde_json::json!({
        "id": written.doc.to_string(),
        "event": written.event.to_string(),
    }));
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Init {
            replica,
            server,
            token,
        } => init(&replica.replica, &server, &token),
        command @ (Command::Create { .. }
        | Command::Update { .. }
        | Command::Remove { .. }
        | Command::Resolve { .. }) => write(command),
        command @ (Command::Get { .. }
        | Command::Find { .. }
        | Command::Conflicts { .. }
        | Command::Root { .. }) => read(command),
        Command::Sync { replica } => {
            let mut replica = Replica::open(&replica.replica)?;
            let report = runtime()?.block_on(replica.sync())?;
            print(&serde_json::to_value(report)?);
            Ok(())
        }
        Command::Watch { replica } => watch(&replica.replica),
    }
}

fn init(dir: &std::path::Path, server: &str, token: &str) -> anyhow::Result<()> {
    let replica = Replica::init(dir, server, token)?;
    print(&serde_json::json!({
        "replica": replica.id().to_string(),
        "user": replica.user(),
        "groups": replica.groups(),
        "server": replica.server_url(),
    }));
    Ok(())
}

/// The commands that write an event.
fn write(command: Command) -> anyhow::Result<()> {
    let written = match command {
        Command::Create {
            replica,
            group,
            collection,
            json,
        } => {
            let document = json::parse("document", &json)?;
            Replica::open(&replica.replica)?.create(&group, &collection, &document)?
        }
        Command::Update {
            replica,
            group,
            collection,
            id,
            json_patch,
        } => {
            let id = parse_doc_id(&id)?;
            let patch = json::parse("patch", &json_patch)?;
            Replica::open(&replica.replica)?.update(&group, &collection, id, &patch)?
        }
        Command::Remove {
            replica,
            group,
            collection,
            id,
        } => {
            let id = parse_doc_id(&id)?;
            Replica::open(&replica.replica)?.remove(&group, &collection, id)?
        }
        Command::Resolve {
            replica,
            conflict_id,
            json,
        } => {
            let conflict_id = parse_conflict_id(&conflict_id)?;
            let decision = json::parse("decision", &json)?;
            Replica::open(&replica.replica)?.resolve(conflict_id, &decision)?
        }
        _ => unreachable!("run hands only writing commands to write"),
    };
    print_written(written);
    Ok(())
}

/// The commands that only read the replica.
fn read(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Get {
            replica,
            group,
            collection,
            id,
        } => {
            let id = parse_doc_id(&id)?;
            print(&Replica::open(&replica.replica)?.get(&group, &collection, id)?);
        }
        Command::Find {
            replica,
            group,
            collection,
        } => {
            for document in Replica::open(&replica.replica)?.find(&group, &collection)? {
                print(&document);
            }
        }
        Command::Conflicts { replica } => {
            let conflicts: Vec<serde_json::Value> = Replica::open(&replica.replica)?
                .conflicts()?
                .iter()
                .map(|entry| entry.to_json())
                .collect();
            print(&serde_json::Value::Array(conflicts));
        }
        Command::Root { replica, group } => {
            let root = Replica::open(&replica.replica)?.root(&group)?;
            print(&serde_json::json!({"group": group, "root": root.to_string()}));
        }
        _ => unreachable!("run hands only reading commands to read"),
    }
    Ok(())
}

/// Stays in sync through the live stream until ctrl-c.
fn watch(dir: &std::path::Path) -> anyhow::Result<()> {
    let mut replica = Replica::open(dir)?;
    let runtime = runtime()?;
    let shutdown = CancellationToken::new();
    let stopper = shutdown.clone();
    runtime.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stopper.cancel();
        }
    });
    runtime.block_on(replica.watch(shutdown, |event| print(&watch_json(event))))?;
    print(&serde_json::json!({"stopped": true}));
    Ok(())
}

fn watch_json(event: &WatchEvent) -> serde_json::Value {
    match event {
        WatchEvent::Synced(report) => serde_json::json!({"synced": report}),
        WatchEvent::Live { events, new } => {
            serde_json::json!({"live": {"events": events, "new": new}})
        }
        WatchEvent::Disconnected {
            code,
            message,
            retry_in_ms,
        } => serde_json::json!({
            "disconnected": {"error": code, "message": message, "retry_in_ms": retry_in_ms}
        }),
        // A kind of progress this build does not know how to show.
        _ => serde_json::json!({"progress": format!("{event:?}")}),
    }
}

/// A runtime on this thread: a client syncs one replica at a time, so one thread is enough.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}
