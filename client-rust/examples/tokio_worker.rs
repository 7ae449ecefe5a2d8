//! A tokio task consuming two queues (urgent first) and holding a lock around the device —
//! the tokio example of docs/ASYNC.md. Stops on a "stop" job.
//!
//!     cargo run -p xproc --features tokio --example tokio_worker

use std::time::Duration;

#[tokio::main]
async fn main() -> xproc::Result<()> {
    let c = xproc::aio::Client::new(xproc::Client::connect_default()?)?;
    let urgent = c.queue::<String>("urgent")?;
    let jobs = c.queue::<String>("jobs")?;
    let results = c.queue::<String>("results")?;
    let device = c.lock("device")?;
    let worker = tokio::spawn(async move {
        loop {
            // One request waits on both queues; a runtime timeout drops it, taking nothing.
            let both = [&urgent, &jobs];
            let (_, job) =
                match tokio::time::timeout(Duration::from_secs(30), c.get_any(&both, None)).await {
                    Err(_elapsed) => continue,
                    Ok(r) => r?,
                };
            if job == "stop" {
                return Ok::<_, xproc::Error>(());
            }
            let _guard = device.lock().await?; // released when dropped
            results.put(&format!("done: {job}")).await?;
        }
    });
    worker.await.expect("the worker task panicked")
}
