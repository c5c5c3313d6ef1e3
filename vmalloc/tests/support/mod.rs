// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! What every suite of `vmalloc` needs: running the tool, reading what it
//! printed, and finding the library's golden files.

#![allow(dead_code)] // each suite uses its own part of it

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `vmalloc` with `args`, without colour settings from outside.
pub fn vmalloc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmalloc"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("vmalloc runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("stderr is UTF-8")
}

/// The exit status; a run killed by a signal fails the test.
pub fn status(o: &Output) -> i32 {
    o.status.code().expect("exited, not killed")
}

/// Asserts the exit status, showing both streams when it differs.
#[track_caller]
pub fn assert_status(o: &Output, code: i32) {
    assert_eq!(
        status(o),
        code,
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
}

/// The library's golden files, one level up in the workspace.
pub fn snapshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../snapshots")
}

/// The golden file `snapshots/v2/NAME`.
pub fn golden_v2(name: &str) -> PathBuf {
    snapshots().join("v2").join(name)
}

pub fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}
