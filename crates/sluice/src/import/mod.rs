//! `sluice import --from haproxy|nginx|envoy FILE`: an equivalent sluice config on stdout
//! (commented with the source line each part came from), and on stderr one line per
//! directive that was not translated, `FILE:LINE: directive: why`. Each format has its own
//! module; `out` is the shared result and its TOML rendering.

mod envoy;
mod haproxy;
mod haproxy_backend;
mod nginx;
pub mod out;

use std::process::ExitCode;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum From {
    Haproxy,
    Nginx,
    Envoy,
}

/// Translates `text` (named `file` in comments and warnings).
pub fn translate(from: From, text: &str, file: &str) -> Result<out::Doc, String> {
    let mut d = out::Doc { file: file.to_string(), ..Default::default() };
    match from {
        From::Haproxy => haproxy::import(text, &mut d)?,
        From::Nginx => nginx::import(text, &mut d)?,
        From::Envoy => envoy::import(text, &mut d)?,
    }
    Ok(d)
}

pub fn run(from: From, path: &std::path::Path) -> ExitCode {
    let file = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match translate(from, &text, &file) {
        Ok(d) => {
            print!("{}", out::render(&d));
            for w in &d.warnings {
                eprintln!("{w}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{file}: does not parse: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests;
