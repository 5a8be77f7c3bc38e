//! Compression levels measured, for the defaults in `body/compress.rs`: every algorithm at
//! every level on a text corpus (the repo's docs and examples, and a JSON document), MiB of
//! input per CPU second and the size ratio.
//!   cargo run --release -p sluice-proxy --example compress_levels [FILES...]

use std::io::Write;
use std::time::Instant;

fn corpus(args: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    let files: Vec<std::path::PathBuf> = if args.is_empty() {
        ["docs", "examples"]
            .iter()
            .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "md" || x == "toml"))
            .collect()
    } else {
        args.iter().map(Into::into).collect()
    };
    for f in files {
        out.extend(std::fs::read(f).unwrap_or_default());
    }
    let json: Vec<String> = (0..4000)
        .map(|i| {
            format!(
                "{{\"id\":{i},\"name\":\"endpoint-{i}\",\"state\":\"healthy\",\"weight\":{},\"p99_ms\":{}.5}}",
                i % 7,
                i % 97
            )
        })
        .collect();
    out.extend(format!("[{}]", json.join(",")).into_bytes());
    out
}

fn run(name: &str, level: u32, data: &[u8]) -> (f64, f64) {
    let mut best = f64::MAX;
    let mut size = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let out = match name {
            "gzip" => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            "br" => {
                let mut out = Vec::new();
                let params =
                    brotli::enc::BrotliEncoderParams { quality: level as i32, lgwin: 22, ..Default::default() };
                brotli::BrotliCompress(&mut &data[..], &mut out, &params).unwrap();
                out
            }
            _ => zstd::stream::encode_all(data, level as i32).unwrap(),
        };
        best = best.min(t.elapsed().as_secs_f64());
        size = out.len();
    }
    (data.len() as f64 / (1 << 20) as f64 / best, data.len() as f64 / size as f64)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let data = corpus(&args);
    println!("corpus: {:.1} MiB", data.len() as f64 / (1 << 20) as f64);
    println!("| algorithm | level | MiB/s (one core) | ratio |\n|---|---|---|---|");
    for name in ["br", "zstd", "gzip"] {
        for level in 1..=9 {
            let (speed, ratio) = run(name, level, &data);
            println!("| {name} | {level} | {speed:.0} | {ratio:.2} |");
        }
    }
}
