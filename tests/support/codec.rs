// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The serde formats the state types are tested under, shared by the serde
//! and 0.1.x-compat suites. Include it with
//! `#[path = "support/codec.rs"] mod codec;`.

// Each includer uses a different part of it.
#![allow(dead_code)]

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A serde format under test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Codec {
    Json,
    Postcard,
    Bincode,
    Bitcode,
}

/// Every format: JSON (self-describing), postcard and bincode 1.3.3
/// (compact binary), bitcode 0.6 (Firecracker's snapshots).
pub const CODECS: [Codec; 4] = [Codec::Json, Codec::Postcard, Codec::Bincode, Codec::Bitcode];

impl Codec {
    /// Encodes `value`, which must encode.
    pub fn encode<T: Serialize>(self, value: &T) -> Vec<u8> {
        self.try_encode(value).unwrap()
    }

    /// Encodes `value`, or says why it cannot be.
    pub fn try_encode<T: Serialize>(self, value: &T) -> Result<Vec<u8>, String> {
        match self {
            Codec::Json => serde_json::to_vec(value).map_err(|e| e.to_string()),
            Codec::Postcard => postcard::to_allocvec(value).map_err(|e| e.to_string()),
            Codec::Bincode => bincode::serialize(value).map_err(|e| e.to_string()),
            Codec::Bitcode => bitcode::serialize(value).map_err(|e| e.to_string()),
        }
    }

    /// Decodes `bytes`, or says why they do not decode.
    pub fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T, String> {
        match self {
            Codec::Json => serde_json::from_slice(bytes).map_err(|e| e.to_string()),
            Codec::Postcard => postcard::from_bytes(bytes).map_err(|e| e.to_string()),
            Codec::Bincode => bincode::deserialize(bytes).map_err(|e| e.to_string()),
            Codec::Bitcode => bitcode::deserialize(bytes).map_err(|e| e.to_string()),
        }
    }

    /// Postcard reduces custom errors to a code; bitcode keeps their text
    /// only in debug builds.
    pub fn keeps_messages(self) -> bool {
        match self {
            Codec::Postcard => false,
            Codec::Bitcode => cfg!(debug_assertions),
            Codec::Json | Codec::Bincode => true,
        }
    }
}
