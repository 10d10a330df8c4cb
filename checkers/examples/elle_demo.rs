//! Prints Elle reports for a few hand-made anomalies: what a person sees.
use faultline_checkers::elle::gen::{self, Builder, GenOptions, Inject};
use faultline_checkers::elle::{check_list_append, ConsistencyModel, ElleOptions};
use serde_json::json;

fn main() {
    let keys = [json!("x"), json!("y"), json!("z"), json!("w")];
    for what in [
        Inject::G0,
        Inject::GNonadjacent,
        Inject::LostUpdate,
        Inject::IncompatibleOrder,
    ] {
        let h = Builder::new()
            .concurrent(&what.txns([&keys[0], &keys[1], &keys[2], &keys[3]], 0))
            .history();
        let r = check_list_append(&h, &ElleOptions::for_model(ConsistencyModel::Serializable))
            .expect("well-formed");
        println!("---- {what:?}\n{}", r.to_text());
    }
    let h = gen::list_append(&GenOptions {
        txns: 2000,
        ..GenOptions::default()
    });
    let h = gen::inject(&h, Inject::GSingle, 3);
    let r = check_list_append(
        &h,
        &ElleOptions::for_model(ConsistencyModel::StrictSerializable),
    )
    .expect("well-formed");
    println!("---- generated + G-single\n{}", r.to_text());
    if let Some((name, dot, _svg)) = r.cycle_graphs().into_iter().next() {
        println!("{name}:\n{dot}");
    }
}
