// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Where an encoder's bytes go: a `Vec`, a byte counter, or (with `std`) a
//! stream with the checksum computed on the way.

use alloc::vec::Vec;

/// A destination for encoded bytes.
pub(crate) trait Sink {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);

    /// Appends one byte.
    #[inline]
    fn byte(&mut self, byte: u8) {
        self.put(&[byte]);
    }
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    #[inline]
    fn byte(&mut self, byte: u8) {
        self.push(byte);
    }
}

/// Counts bytes: the first pass of a streamed file, which must state its
/// body's length before the body.
#[cfg(feature = "std")]
#[derive(Debug, Default)]
pub(crate) struct Counter(pub(crate) u64);

#[cfg(feature = "std")]
impl Sink for Counter {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len() as u64;
    }

    #[inline]
    fn byte(&mut self, _: u8) {
        self.0 += 1;
    }
}

#[cfg(feature = "std")]
pub(crate) use stream::Stream;

#[cfg(feature = "std")]
mod stream {
    use std::io::{self, Write};

    use alloc::vec::Vec;

    use super::Sink;

    /// Bytes through a buffer to a writer, with the CRC-32C of everything
    /// written; the first I/O error stops the writes and is kept.
    pub(crate) struct Stream<W: Write> {
        inner: W,
        buffer: Vec<u8>,
        crc: crate::format::frame::Crc32cDigest,
        error: Option<io::Error>,
    }

    const BUFFER: usize = 1 << 16;

    impl<W: Write> Stream<W> {
        pub(crate) fn new(inner: W) -> Self {
            Stream {
                inner,
                buffer: Vec::with_capacity(BUFFER),
                crc: crate::format::frame::Crc32cDigest::new(),
                error: None,
            }
        }

        fn flush_buffer(&mut self) {
            if self.error.is_none() {
                if let Err(e) = self.inner.write_all(&self.buffer) {
                    self.error = Some(e);
                }
            }
            self.buffer.clear();
        }

        /// Writes the checksum of everything written so far, then flushes.
        pub(crate) fn finish(mut self) -> io::Result<()> {
            let crc = self.crc.clone().finalize();
            self.buffer.extend_from_slice(&crc.to_le_bytes());
            self.flush_buffer();
            match self.error.take() {
                Some(e) => Err(e),
                None => self.inner.flush(),
            }
        }
    }

    impl<W: Write> Sink for Stream<W> {
        fn put(&mut self, bytes: &[u8]) {
            self.crc.update(bytes);
            if self.buffer.len() + bytes.len() > BUFFER {
                self.flush_buffer();
            }
            self.buffer.extend_from_slice(bytes);
        }
    }
}
