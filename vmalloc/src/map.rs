// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `vmalloc map FILE --svg OUT`: a picture of each pool.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::load::{self, Loaded};
use crate::{human, pools, svg, Failure, Outcome};

/// Draw each pool of a state in an SVG picture.
///
/// Each pool is a bar: allocations as blocks coloured by owner, free space
/// pale, a hex scale and a legend of owners.
///
/// Allocations narrower than a few pixels are bucketed into one-pixel
/// columns whose height shows how full they are, so a space of 10,000
/// fragmented allocations stays readable (and the file small). Hovering
/// over a block in a browser names its owner and range.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    vmalloc map snapshots/v2/x86_64_set.bin --svg vm.svg\n  \
    vmalloc map snapshots/v2/fragmented_address_10k_tagged.bin --svg fragmented.svg")]
pub struct Args {
    /// The state file (an allocator or a resource set; any format version).
    file: PathBuf,
    /// Where to write the SVG picture.
    #[arg(long, value_name = "OUT")]
    svg: PathBuf,
}

pub fn run(args: Args) -> Outcome {
    let loaded = load::load(&args.file)?;
    let pools_drawn = write_map(&loaded, &args.svg)?;
    say!(
        "{}: map of {}",
        args.svg.display(),
        human::count(pools_drawn as u64, "pool", "pools")
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes the map of a loaded state to `out`; returns the number of pools.
pub fn write_map(loaded: &Loaded, out: &Path) -> Result<usize, Failure> {
    let state = loaded.expect_state("map")?;
    let pools = pools::pools(state);
    let name = Path::new(&loaded.path)
        .file_name()
        .map_or(loaded.path.clone(), |n| n.to_string_lossy().into_owned());
    let allocations: usize = pools.iter().map(|p| p.count()).sum();
    let subtitle = format!(
        "{}, format version {}, generation {}, {}",
        state.kind(),
        loaded.version,
        state.generation(),
        human::count(allocations as u64, "allocation", "allocations"),
    );
    let picture = svg::render(&name, &subtitle, &pools);
    std::fs::write(out, picture)
        .map_err(|e| Failure::new(format!("{}: cannot write: {e}", out.display())))?;
    Ok(pools.len())
}
