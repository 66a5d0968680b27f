//! Photo pipeline benchmark: one original → derivative, timed over several runs.
//! cargo run --release -p qingliu-app --example photo_bench -- tests/data/photos/olympus-ep3-12mp.jpg /tmp/out.jpg
use std::time::Instant;

use qingliu_app::photos::{PipelineConfig, Stamp, process, system_font};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let input = args.get(1).map(String::as_str).unwrap_or("tests/data/photos/olympus-ep3-12mp.jpg");
    let output = args.get(2).cloned();
    let runs: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    let bytes = std::fs::read(input).expect("read input");
    let cfg = PipelineConfig { font: system_font(), ..PipelineConfig::default() };
    let stamp = Stamp {
        time: time::OffsetDateTime::now_utc(),
        position: Some(shared::geo::LngLat::new(114.3055, 30.5928)),
        accuracy_m: Some(6.0),
        site_name: "青山区示例塘（黑臭水体）".into(),
        inspector: "王检查".into(),
    };
    let mut times = Vec::new();
    let mut out = None;
    for _ in 0..runs {
        let t = Instant::now();
        let p = process(&bytes, &stamp, &cfg).expect("process");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        out = Some(p);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let p = out.expect("ran");
    println!(
        "{input}: median {:.1} ms, min {:.1} ms over {runs} runs; output {}x{} {} bytes",
        times[times.len() / 2],
        times[0],
        p.photo.width,
        p.photo.height,
        p.jpeg.len()
    );
    if let Some(o) = output {
        std::fs::write(o, &p.jpeg).expect("write output");
    }
}
