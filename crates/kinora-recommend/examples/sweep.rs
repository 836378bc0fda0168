//! Validation and test HR@10 of the online model for parameter sets, to explore
//! before changing the grid: `cargo run -p kinora-recommend --example sweep --
//! PATH "a_co=2 co_hist=10" "a_co=3"`.

use kinora_recommend::eval::{online, parse, Target};
use kinora_recommend::Params;

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: sweep PATH [\"k=v k=v\" ...]")?;
    let log = parse(&std::fs::read_to_string(&path).map_err(|e| e.to_string())?)?;
    for set in args {
        let mut p = Params::default();
        for kv in set.split_whitespace() {
            let (k, v) = kv.split_once('=').ok_or("k=v")?;
            p.set(k, v)?;
        }
        let (v, _) = online(&log, &p, Target::Validation);
        let (t, nd) = online(&log, &p, Target::Test);
        println!("{set:<50} val {v:.4}  test {t:.4}  ndcg {nd:.4}");
    }
    Ok(())
}
