// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! A counting global allocator for the memory tests (`tests/serde_memory.rs`,
//! `tests/bounds.rs`) and the examples that report heap sizes
//! (`examples/memory_usage.rs`, `examples/state_sizes.rs`). Include it with
//! `#[path = "support/counting.rs"] mod counting;` and install it with
//! `#[global_allocator] static A: counting::Counting = counting::Counting;`.
//!
//! Counting is per thread: [`measure`] counts what the calling thread
//! allocates while it runs `f`, so tests running in parallel on other
//! threads do not disturb it.

// Each includer uses a different part of it.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// `System`, with the heap of each thread counted while [`measure`] runs.
pub struct Counting;

thread_local! {
    // `const` and without destructors: reading them never allocates, and
    // they are still readable while the thread is torn down.
    static ON: Cell<bool> = const { Cell::new(false) };
    /// Bytes live now, above what was live when counting started.
    static CURRENT: Cell<isize> = const { Cell::new(0) };
    /// The most bytes live at once since counting started.
    static PEAK: Cell<isize> = const { Cell::new(0) };
    /// Every byte allocated since counting started (frees not deducted).
    static TOTAL: Cell<usize> = const { Cell::new(0) };
}

fn grow(bytes: usize) {
    let _ = ON.try_with(|on| {
        if on.get() {
            let now = CURRENT.with(|c| {
                c.set(c.get() + bytes as isize);
                c.get()
            });
            PEAK.with(|p| p.set(p.get().max(now)));
            TOTAL.with(|t| t.set(t.get() + bytes));
        }
    });
}

fn shrink(bytes: usize) {
    let _ = ON.try_with(|on| {
        if on.get() {
            CURRENT.with(|c| c.set(c.get() - bytes as isize));
        }
    });
}

// SAFETY: every call goes to `System` unchanged; the counters only observe.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrink(layout.size());
        System.dealloc(ptr, layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // The old and the new block may both be live during the copy.
        grow(new_size);
        shrink(layout.size());
        System.realloc(ptr, layout, new_size)
    }
}

/// What the calling thread allocated while running one closure.
#[derive(Clone, Copy, Debug)]
pub struct Heap {
    /// The most bytes live at once, above what was live before (what `f`
    /// returns included).
    pub peak: usize,
    /// Every byte allocated, frees not deducted.
    pub total: usize,
    /// Bytes still live when `f` returned (what its result holds).
    pub retained: usize,
}

/// Runs `f` and returns its result and what this thread allocated meanwhile.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Heap) {
    CURRENT.with(|c| c.set(0));
    PEAK.with(|p| p.set(0));
    TOTAL.with(|t| t.set(0));
    ON.with(|on| on.set(true));
    let result = f();
    ON.with(|on| on.set(false));
    let heap = Heap {
        peak: PEAK.with(Cell::get).max(0) as usize,
        total: TOTAL.with(Cell::get),
        retained: CURRENT.with(Cell::get).max(0) as usize,
    };
    (result, heap)
}

/// Heap bytes held by what `build` returns, and the value.
pub fn heap_of<T>(build: impl FnOnce() -> T) -> (usize, T) {
    let (value, heap) = measure(build);
    (heap.retained, value)
}
