// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `vmalloc import-v0-1 IN OUT [--from json|bincode]`: state that
//! vm-allocator 0.1.x saved with serde, validated, into this crate's
//! format.

use std::path::PathBuf;
use std::process::ExitCode;

use bincode::Options;
use clap::ValueEnum;
use serde::de::DeserializeOwned;
use vm_allocator::compat::v0_1::V01;
use vm_allocator::{AddressAllocator, IdAllocator};

use crate::load::{self, State};
use crate::{human, pools, Failure, Outcome};

/// Import state that vm-allocator 0.1.x saved with serde.
///
/// The state of an IdAllocator or an AddressAllocator that vm-allocator
/// 0.1.x serialised (as a VMM on 0.1.x saved it in its snapshots) is
/// checked completely and written in this crate's format.
///
/// 0.1.x accepts any bytes of the right shape and then hands out the same
/// range twice or crashes; here every node and id is checked (sorted,
/// disjoint, inside the space, a bounded tree depth) and the first problem
/// is reported. The encoding is JSON (serde_json) or bincode 1.3 with its
/// default options (fixed-width integers, little-endian), as
/// `bincode::serialize` writes; by default a file starting with `{` (and
/// without NUL bytes) is JSON. The kind is found by trying both unless --kind says.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    vmalloc import-v0-1 gsi.json gsi.vmalloc\n  \
    vmalloc import-v0-1 --from bincode --kind address mmio.bin mmio.vmalloc")]
pub struct Args {
    /// The 0.1.x state.
    input: PathBuf,
    /// Where to write it (format version 2).
    output: PathBuf,
    /// Its encoding (default: JSON if it starts with `{`, else bincode).
    #[arg(long, value_enum)]
    from: Option<Encoding>,
    /// What it holds (default: whichever of the two it decodes as).
    #[arg(long, value_enum)]
    kind: Option<Kind>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Encoding {
    Json,
    Bincode,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// vm_allocator::IdAllocator of 0.1.x.
    Id,
    /// vm_allocator::AddressAllocator of 0.1.x.
    Address,
}

pub fn run(args: Args) -> Outcome {
    let bytes = load::read(&args.input)?;
    let shown = args.input.display().to_string();
    let encoding = args.from.unwrap_or_else(|| guess(&bytes));
    let name = match encoding {
        Encoding::Json => "JSON",
        Encoding::Bincode => "bincode",
    };
    let state = match args.kind {
        Some(Kind::Id) => decode::<IdAllocator>(&bytes, encoding).map(State::Ids),
        Some(Kind::Address) => decode::<AddressAllocator>(&bytes, encoding).map(State::Addresses),
        None => {
            let ids = decode::<IdAllocator>(&bytes, encoding);
            let addresses = decode::<AddressAllocator>(&bytes, encoding);
            match (ids, addresses) {
                (Ok(ids), Err(_)) => Ok(State::Ids(ids)),
                (Err(_), Ok(addresses)) => Ok(State::Addresses(addresses)),
                (Ok(_), Ok(_)) => {
                    return Err(Failure::new(format!(
                        "{shown}: the bytes decode both as an IdAllocator and as an \
                         AddressAllocator of 0.1.x; say which with --kind"
                    )))
                }
                (Err(id_error), Err(address_error)) => Err(format!(
                    "as an IdAllocator: {id_error}; as an AddressAllocator: {address_error}"
                )),
            }
        }
    }
    .map_err(|why| {
        Failure::new(format!(
            "{shown}: not valid vm-allocator 0.1.x state in {name}: {why}"
        ))
    })?;
    let out = args.output.as_path();
    let written = match &state {
        State::Ids(s) => s.write_to_path(out),
        State::Addresses(s) => s.write_to_path(out),
        _ => unreachable!("only allocators are imported"),
    };
    written.map_err(|e| Failure::new(format!("{}: cannot write: {e}", out.display())))?;
    let pools = pools::pools(&state);
    let pool = &pools[0];
    say!(
        "{}: {} of {} with {} ({} used), from {name}",
        out.display(),
        state.kind(),
        human::range(pool.kind(), pool.start(), pool.end()),
        human::count(pool.count() as u64, "allocation", "allocations"),
        human::amount(pool.kind(), pool.used()),
    );
    Ok(ExitCode::SUCCESS)
}

/// JSON starts with `{` (after white space) and holds no NUL byte;
/// bincode of 0.1.x state starts with a little-endian `u32` or `u64`, whose
/// high bytes are zero for any id base or address below 2^56 (an id base
/// of 123 starts with `{` too, then NULs).
fn guess(bytes: &[u8]) -> Encoding {
    let starts_like_json = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if starts_like_json && !bytes.contains(&0) {
        Encoding::Json
    } else {
        Encoding::Bincode
    }
}

/// Decodes 0.1.x state of type `T`, refusing trailing bytes.
fn decode<T>(bytes: &[u8], encoding: Encoding) -> Result<T, String>
where
    V01<T>: DeserializeOwned,
{
    match encoding {
        Encoding::Json => serde_json::from_slice::<V01<T>>(bytes)
            .map(|V01(state)| state)
            .map_err(|e| e.to_string()),
        Encoding::Bincode => bincode::DefaultOptions::new()
            .with_fixint_encoding()
            .with_little_endian()
            .reject_trailing_bytes()
            // Nothing may claim more memory than the input could fill.
            .with_limit(bytes.len() as u64)
            .deserialize::<V01<T>>(bytes)
            .map(|V01(state)| state)
            .map_err(|e| e.to_string()),
    }
}
