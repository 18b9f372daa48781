//! Helpers shared by the load tools: HTTP helpers (health, driver registration, order
//! bodies, `/metrics`), the wall clock, the city box orders and drivers live in,
//! percentile summaries, and reading a Prometheus histogram from `/metrics`.

use anyhow::{bail, Context};
use hdrhistogram::Histogram;
use rand::Rng;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::task::JoinSet;

/// An HTTP client with a connection pool sized for `concurrency` callers.
pub fn http_client(concurrency: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency.max(1))
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// Waits until the engine is ready: `/readyz` 200 (recovery after a start done), or
/// `/healthz` 200 from an engine without `/readyz`.
pub async fn wait_healthy(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut path = "/readyz";
    while Instant::now() < deadline {
        if let Ok(r) = http.get(format!("{base}{path}")).send().await {
            match r.status().as_u16() {
                200 => return Ok(()),
                404 => path = "/healthz",
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("engine at {base} is not ready")
}

/// Registers the drivers `ids` through `POST /v1/drivers` (64 at a time; 201 new, 200
/// already there) with `capacity` (the engine's default without) and returns their
/// tokens in the same order.
pub async fn register_drivers(
    http: &reqwest::Client,
    (base, token): (&str, &str),
    ids: &[String],
    capacity: Option<u32>,
) -> anyhow::Result<Vec<String>> {
    let mut tokens = vec![String::new(); ids.len()];
    let idx: Vec<usize> = (0..ids.len()).collect();
    for chunk in idx.chunks(64) {
        let mut set = JoinSet::new();
        for &i in chunk {
            let (http, url, token, id) = (
                http.clone(),
                format!("{base}/v1/drivers"),
                token.to_string(),
                ids[i].clone(),
            );
            let mut body = serde_json::json!({ "id": id });
            if let Some(c) = capacity {
                body["capacity"] = c.into();
            }
            set.spawn(async move {
                let resp = http
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .with_context(|| format!("registering driver {id}"))?;
                let status = resp.status().as_u16();
                let body: serde_json::Value = resp.json().await.unwrap_or_default();
                if status != 200 && status != 201 {
                    bail!("registering driver {id}: HTTP {status} {body}");
                }
                let t = body["token"]
                    .as_str()
                    .with_context(|| format!("no token for driver {id}"))?
                    .to_string();
                anyhow::Ok((i, t))
            });
        }
        while let Some(r) = set.join_next().await {
            let (i, t) = r??;
            tokens[i] = t;
        }
    }
    Ok(tokens)
}

/// An error code from an engine answer (`{"error":{"code":…}}`), else `http_<status>`.
pub async fn error_code(resp: reqwest::Response) -> String {
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    body["error"]["code"]
        .as_str()
        .map_or_else(|| format!("http_{status}"), str::to_string)
}

/// `/metrics` as text (empty when unreachable: metrics are optional extras).
pub async fn metrics_text(http: &reqwest::Client, base: &str) -> String {
    match http.get(format!("{base}/metrics")).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// What opens a sample's label set in the Prometheus text format.
const LABELS: char = '{';

/// Sum of every sample of a counter or gauge (all label sets).
pub fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(LABELS) || rest.starts_with(' '))
        })
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum()
}

/// How much each of the counters `names` grew between two scrapes.
pub fn counter_deltas(names: &[&str], before: &str, after: &str) -> BTreeMap<String, f64> {
    names
        .iter()
        .map(|name| {
            (
                name.to_string(),
                metric_sum(after, name) - metric_sum(before, name),
            )
        })
        .collect()
}

/// Cumulative bucket counts `(le, count)` of a Prometheus histogram, summed over label
/// sets, sorted by `le` (`+Inf` last).
pub fn prom_buckets(text: &str, name: &str) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{LABELS}");
    let mut out: Vec<(f64, f64)> = Vec::new();
    for line in text.lines().filter(|l| l.starts_with(&prefix)) {
        let Some(le) = line
            .split("le=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .and_then(|v| match v {
                "+Inf" => Some(f64::INFINITY),
                v => v.parse::<f64>().ok(),
            })
        else {
            continue;
        };
        let Some(count) = line
            .split_whitespace()
            .last()
            .and_then(|v| v.parse::<f64>().ok())
        else {
            continue;
        };
        match out.iter_mut().find(|(l, _)| *l == le) {
            Some(b) => b.1 += count,
            None => out.push((le, count)),
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// The upper bound of the bucket holding quantile `q` of the samples recorded between
/// two scrapes (`None` without samples). Prometheus buckets only bound a quantile.
pub fn bucket_quantile(before: &[(f64, f64)], after: &[(f64, f64)], q: f64) -> Option<f64> {
    let delta: Vec<(f64, f64)> = after
        .iter()
        .map(|&(le, n)| {
            let old = before.iter().find(|(l, _)| *l == le).map_or(0.0, |b| b.1);
            (le, n - old)
        })
        .collect();
    let total = delta.last()?.1;
    if total <= 0.0 {
        return None;
    }
    delta
        .iter()
        .find(|(_, n)| *n >= q * total)
        .map(|&(le, _)| le)
}

/// Where drivers and orders live: a box around Helsinki.
#[derive(Debug, Clone, Copy)]
pub struct Area {
    pub min_lat: f64,
    pub max_lat: f64,
    pub min_lon: f64,
    pub max_lon: f64,
}

pub const HELSINKI: Area = Area {
    min_lat: 60.10,
    max_lat: 60.25,
    min_lon: 24.80,
    max_lon: 25.10,
};

impl Area {
    /// `MIN_LAT,MIN_LON,MAX_LAT,MAX_LON` in degrees (a command-line box).
    pub fn parse(s: &str) -> Result<Area, String> {
        let v: Vec<f64> = s
            .split(',')
            .map(|x| x.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("expected MIN_LAT,MIN_LON,MAX_LAT,MAX_LON: {e}"))?;
        let [min_lat, min_lon, max_lat, max_lon] = v[..] else {
            return Err("expected four numbers: MIN_LAT,MIN_LON,MAX_LAT,MAX_LON".into());
        };
        let ok = (-90.0..=90.0).contains(&min_lat)
            && (-90.0..=90.0).contains(&max_lat)
            && (-180.0..=180.0).contains(&min_lon)
            && (-180.0..=180.0).contains(&max_lon)
            && min_lat < max_lat
            && min_lon < max_lon;
        if !ok {
            return Err(format!(
                "{s}: not a box of latitudes and longitudes, min before max"
            ));
        }
        Ok(Area {
            min_lat,
            max_lat,
            min_lon,
            max_lon,
        })
    }

    pub fn contains(&self, (lat, lon): (f64, f64)) -> bool {
        (self.min_lat..=self.max_lat).contains(&lat) && (self.min_lon..=self.max_lon).contains(&lon)
    }

    pub fn random_point(&self, rng: &mut impl Rng) -> (f64, f64) {
        (
            rng.random_range(self.min_lat..self.max_lat),
            rng.random_range(self.min_lon..self.max_lon),
        )
    }
}

const EARTH_M: f64 = 6_371_008.8;

/// Great-circle distance in metres (the same sphere as the engine's).
pub fn haversine_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (p1, p2) = (a.0.to_radians(), b.0.to_radians());
    let dp = (b.0 - a.0).to_radians();
    let dl = (b.1 - a.1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_M * h.sqrt().min(1.0).asin()
}

/// The point `dist_m` from `from` along the initial bearing `bearing` (radians).
pub fn destination(from: (f64, f64), dist_m: f64, bearing: f64) -> (f64, f64) {
    let d = dist_m / EARTH_M;
    let (lat1, lon1) = (from.0.to_radians(), from.1.to_radians());
    let lat2 = (lat1.sin() * d.cos() + lat1.cos() * d.sin() * bearing.cos()).asin();
    let lon2 =
        lon1 + (bearing.sin() * d.sin() * lat1.cos()).atan2(d.cos() - lat1.sin() * lat2.sin());
    (lat2.to_degrees(), lon2.to_degrees())
}

/// A pickup anywhere in `area` and a dropoff `min_m..=max_m` from it, also in `area`.
pub fn random_trip(
    rng: &mut impl Rng,
    area: &Area,
    min_m: f64,
    max_m: f64,
) -> ((f64, f64), (f64, f64)) {
    loop {
        let pickup = area.random_point(rng);
        for _ in 0..16 {
            let dist = rng.random_range(min_m..=max_m);
            let bearing = rng.random_range(0.0..std::f64::consts::TAU);
            let dropoff = destination(pickup, dist, bearing);
            if area.contains(dropoff) {
                return (pickup, dropoff);
            }
        }
    }
}

/// The JSON body of `POST /v1/orders` for one trip (size 1, optional dropoff deadline).
pub fn order_body(
    id: &str,
    (pickup, dropoff): ((f64, f64), (f64, f64)),
    due_ms: Option<u64>,
) -> serde_json::Value {
    let mut drop = serde_json::json!({"lat": dropoff.0, "lon": dropoff.1});
    if let Some(due) = due_ms {
        drop["due_ms"] = due.into();
    }
    serde_json::json!({
        "id": id,
        "pickup": {"lat": pickup.0, "lon": pickup.1},
        "dropoff": drop,
        "size": 1,
    })
}

/// Unix epoch milliseconds now: the wall clock of every engine-facing time (`ts_ms`,
/// `ready_ms`, `due_ms`).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A short per-run prefix for order ids, so reruns against one data dir never collide
/// with the idempotent ids of an earlier run.
pub fn run_prefix() -> String {
    let ms = now_ms();
    format!("sim{:x}-", ms % (1 << 40))
}

/// A latency histogram in microseconds, 1 µs .. 10 min.
pub fn micros_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// Percentiles of a microsecond histogram, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub n: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Summary {
    pub fn of(h: &Histogram<u64>) -> Self {
        let ms = |v: u64| v as f64 / 1000.0;
        if h.is_empty() {
            return Self {
                n: 0,
                p50_ms: 0.0,
                p90_ms: 0.0,
                p99_ms: 0.0,
                max_ms: 0.0,
            };
        }
        Self {
            n: h.len(),
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "n={} p50={:.2} ms p90={:.2} ms p99={:.2} ms max={:.2} ms",
            self.n, self.p50_ms, self.p90_ms, self.p99_ms, self.max_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_area_parses_from_four_numbers_min_before_max() {
        let a = Area::parse("60.16, 24.93,60.18,24.96").unwrap();
        assert_eq!(
            (a.min_lat, a.min_lon, a.max_lat, a.max_lon),
            (60.16, 24.93, 60.18, 24.96)
        );
        for bad in [
            "60.18,24.93,60.16,24.96",
            "1,2,3",
            "91,0,92,1",
            "a,b,c,d",
            "1,2,3,4,5",
        ] {
            assert!(Area::parse(bad).is_err(), "{bad}");
        }
    }
    use rand::SeedableRng;

    #[test]
    fn trips_stay_in_the_box_and_in_the_distance_range() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..10_000 {
            let (p, d) = random_trip(&mut rng, &HELSINKI, 1_000.0, 3_000.0);
            assert!(HELSINKI.contains(p), "{p:?}");
            assert!(HELSINKI.contains(d), "{d:?}");
            let m = haversine_m(p, d);
            assert!((999.0..=3_001.0).contains(&m), "{m} m");
        }
    }

    #[test]
    fn destination_agrees_with_haversine() {
        let from = (60.17, 24.94);
        for bearing in [0.0, 1.0, 2.5, 4.0, 6.0] {
            let to = destination(from, 2_345.0, bearing);
            assert!((haversine_m(from, to) - 2_345.0).abs() < 0.01);
        }
        // Due north moves latitude only.
        let north = destination(from, 1_000.0, 0.0);
        assert!((north.1 - from.1).abs() < 1e-12 && north.0 > from.0);
    }

    #[test]
    fn order_body_has_the_contract_shape() {
        let b = order_body("o1", ((60.1, 24.9), (60.2, 25.0)), Some(5));
        assert_eq!(b["id"], "o1");
        assert_eq!(b["pickup"]["lat"], 60.1);
        assert_eq!(b["dropoff"]["lon"], 25.0);
        assert_eq!(b["dropoff"]["due_ms"], 5);
        assert_eq!(b["size"], 1);
        assert!(
            order_body("o2", ((60.1, 24.9), (60.2, 25.0)), None)["dropoff"]
                .get("due_ms")
                .is_none()
        );
    }

    #[test]
    fn summary_reports_percentiles_in_milliseconds() {
        let mut h = micros_histogram();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap(); // 1..=1000 ms
        }
        let s = Summary::of(&h);
        assert_eq!(s.n, 1000);
        assert!((s.p50_ms - 500.0).abs() < 1.0, "{s:?}");
        assert!((s.p90_ms - 900.0).abs() < 1.0, "{s:?}");
        assert!((s.p99_ms - 990.0).abs() < 1.0, "{s:?}");
        assert!((s.max_ms - 1000.0).abs() < 1.0, "{s:?}");
        assert_eq!(Summary::of(&micros_histogram()).n, 0);
    }

    #[test]
    fn prometheus_histogram_quantile_uses_the_delta_between_scrapes() {
        let name = "x_seconds";
        let before = "x_seconds_bucket{le=\"0.01\"} 5\nx_seconds_bucket{le=\"0.1\"} 10\nx_seconds_bucket{le=\"+Inf\"} 10\nx_seconds_sum 1\nx_seconds_count 10\n";
        let after = "x_seconds_bucket{le=\"0.01\"} 95\nx_seconds_bucket{le=\"0.1\"} 109\nx_seconds_bucket{le=\"+Inf\"} 110\n";
        let (b, a) = (prom_buckets(before, name), prom_buckets(after, name));
        assert_eq!(a.len(), 3);
        // 100 new samples: 90 ≤ 10 ms, 99 ≤ 100 ms, 1 above.
        assert_eq!(bucket_quantile(&b, &a, 0.5), Some(0.01));
        assert_eq!(bucket_quantile(&b, &a, 0.9), Some(0.01));
        assert_eq!(bucket_quantile(&b, &a, 0.99), Some(0.1));
        assert_eq!(bucket_quantile(&b, &a, 1.0), Some(f64::INFINITY));
        assert_eq!(bucket_quantile(&a, &a, 0.99), None);
        assert_eq!(
            metric_sum("a_total 3\na_total_x 9\na_total{k=\"v\"} 4\n", "a_total"),
            7.0
        );
    }
}
