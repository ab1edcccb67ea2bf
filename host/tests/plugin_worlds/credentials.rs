//! Credential providers: rest-config, eks, token-file; secrets never shown.

mod eks;
mod rest_config;
mod token_file;

pub(crate) use {eks::*, rest_config::*, token_file::*};
