// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Colour for people: only on a terminal, never when `NO_COLOR` is set
//! (<https://no-color.org>) or the output is JSON, unless `--color always`.

use std::fmt::Display;
use std::io::IsTerminal;

use crate::ColorWhen;

/// Whether to colour one stream, and how.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    enabled: bool,
}

impl Style {
    /// For standard output.
    pub fn stdout(when: ColorWhen) -> Style {
        Style::decide(when, std::io::stdout().is_terminal())
    }

    /// For standard error.
    pub fn stderr(when: ColorWhen) -> Style {
        Style::decide(when, std::io::stderr().is_terminal())
    }

    /// No colour at all (JSON, files).
    pub fn plain() -> Style {
        Style { enabled: false }
    }

    fn decide(when: ColorWhen, terminal: bool) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let enabled = match when {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => terminal && !no_color,
        };
        Style { enabled }
    }

    /// True if this stream is coloured.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    fn paint(&self, code: &str, text: impl Display) -> String {
        if self.enabled {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Headings.
    pub fn bold(&self, text: impl Display) -> String {
        self.paint("1", text)
    }

    /// Secondary text.
    pub fn dim(&self, text: impl Display) -> String {
        self.paint("2", text)
    }

    /// Success, allocations.
    pub fn good(&self, text: impl Display) -> String {
        self.paint("32", text)
    }

    /// Failures, frees.
    pub fn bad(&self, text: impl Display) -> String {
        self.paint("31", text)
    }

    /// Names of steps and pools.
    pub fn accent(&self, text: impl Display) -> String {
        self.paint("36", text)
    }

    /// The program name before an error.
    pub fn error(&self, text: impl Display) -> String {
        self.paint("1;31", text)
    }
}
