#![no_main]
// Placeholder while the target is written.
libfuzzer_sys::fuzz_target!(|_data: &[u8]| {});
