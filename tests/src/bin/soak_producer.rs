//! The soak's producer (tests/tests/soak.rs): `produce QUEUE START COUNT` puts the item ids
//! START..START+COUNT, pipelined, and prints `{"put": COUNT}`.

use serde_json::json;
use xproc_tests::worker_main;

fn main() {
    worker_main(|args, client| {
        let q = client.queue::<u64>(args.str(1))?;
        let (start, count): (u64, u64) = (args.parse(2), args.parse(3));
        let put = q.put_many(start..start + count)?;
        Ok(json!({ "put": put }))
    })
}
