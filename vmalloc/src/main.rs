// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `vmalloc`: inspect, verify, dump, diff, convert and map vm-allocator
//! state files, reconcile them with what the devices claim, and a demo
//! of a VMM's life with a live migration between two processes.
//!
//! The workspace's `vmalloc` package (`cargo install --path vmalloc`): one
//! file per subcommand, shared helpers beside them. It uses only the
//! library's public API.

/// `println!` for people: a closed pipe (`vmalloc verify ... | head`) is
/// not worth a panic, so write errors on standard output are ignored.
macro_rules! say {
    () => {
        $crate::say_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::say_line(format_args!($($arg)*))
    };
}

mod adopt;
mod apply;
mod blame;
mod claims;
mod compact;
mod convert;
mod demo;
mod demo_destination;
mod diff;
mod dump;
mod human;
mod import;
mod inspect;
mod journal;
mod load;
mod log;
mod map;
mod pools;
mod reconcile;
mod replay;
mod style;
mod svg;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit status of a command that failed (an invalid file, a diff that
/// does not apply, files that differ for `diff`).
pub const EXIT_FAILURE: u8 = 1;
/// Exit status of a usage error (clap's too), and of `diff` when it cannot
/// compare.
pub const EXIT_USAGE: u8 = 2;

/// A failure to report on stderr: the message (which names the file) and
/// the exit status.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl Failure {
    /// A failure with exit status 1.
    pub fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: EXIT_FAILURE,
        }
    }

    /// The same failure with another exit status.
    pub fn with_code(mut self, code: u8) -> Failure {
        self.code = code;
        self
    }
}

/// What a command returns: an exit status, or a failure to report.
pub type Outcome = Result<ExitCode, Failure>;

/// Writes one line on standard output, ignoring a closed pipe.
pub fn say_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{args}");
}

#[derive(Parser)]
#[command(
    name = "vmalloc",
    version,
    about = "Inspect, verify, diff and convert vm-allocator state files and journals, and run a VMM demo",
    long_about = "Inspect, verify, dump, diff, convert and map vm-allocator state files \
                  (allocators, resource sets and deltas of every format version), show, \
                  replay and compact journals, say which version made an allocation \
                  (blame), import vm-allocator 0.1.x state, reconcile a state with what the \
                  devices claim and adopt the claims, and run a demo of a VMM's life with a \
                  live migration between two processes.",
    after_help = "Examples:\n  \
                  vmalloc demo\n  \
                  vmalloc inspect snapshots/v2/x86_64_set.bin\n  \
                  vmalloc verify snapshots/v1/*.bin snapshots/v2/*.bin\n  \
                  vmalloc diff old.vmalloc new.vmalloc\n  \
                  vmalloc reconcile vm.vmalloc devices.json\n  \
                  vmalloc log vm.journal\n  \
                  vmalloc blame vm.journal mmio32 0xd000c000\n\n\
                  Exit status: 0 on success, 1 when a file is invalid, (for diff) the \
                  files differ, (for reconcile) there are findings, (for adopt) the \
                  claims are refused or (for blame) nothing holds the value, 2 on a usage \
                  error (and when diff, reconcile or adopt cannot read their files)."
)]
struct Cli {
    /// When to colour the output: auto (on a terminal, unless NO_COLOR is
    /// set), always or never. Never with --json.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, global = true)]
    color: ColorWhen,

    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
enum Command {
    Inspect(inspect::Args),
    Dump(dump::Args),
    Verify(verify::Args),
    Diff(diff::Args),
    Apply(apply::Args),
    Convert(convert::Args),
    #[command(name = "import-v0-1")]
    ImportV01(import::Args),
    Map(map::Args),
    Reconcile(reconcile::Args),
    Adopt(adopt::Args),
    Log(log::Args),
    Replay(replay::Args),
    Compact(compact::Args),
    Blame(blame::Args),
    Demo(demo::Args),
    #[command(name = "demo-destination", hide = true)]
    DemoDestination(demo_destination::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let color = cli.color;
    let outcome = match cli.command {
        Command::Inspect(args) => inspect::run(args, color),
        Command::Dump(args) => dump::run(args),
        Command::Verify(args) => verify::run(args, color),
        Command::Diff(args) => diff::run(args, color),
        Command::Apply(args) => apply::run(args),
        Command::Convert(args) => convert::run(args),
        Command::ImportV01(args) => import::run(args),
        Command::Map(args) => map::run(args),
        Command::Reconcile(args) => reconcile::run(args, color),
        Command::Adopt(args) => adopt::run(args),
        Command::Log(args) => log::run(args, color),
        Command::Replay(args) => replay::run(args),
        Command::Compact(args) => compact::run(args),
        Command::Blame(args) => blame::run(args, color),
        Command::Demo(args) => demo::run(args, color),
        Command::DemoDestination(args) => demo_destination::run(args, color),
    };
    match outcome {
        Ok(code) => code,
        Err(failure) => {
            let style = style::Style::stderr(color);
            eprintln!("{}: {}", style.error("vmalloc"), failure.message);
            ExitCode::from(failure.code)
        }
    }
}
