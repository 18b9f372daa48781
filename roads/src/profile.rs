//! The car profile: which OSM ways a car may drive, how fast, and in which directions.
//!
//! | `highway`        | km/h | `*_link` km/h |
//! |------------------|------|---------------|
//! | motorway         | 100  | 70            |
//! | trunk            | 80   | 60            |
//! | primary          | 60   | 50            |
//! | secondary        | 50   | 40            |
//! | tertiary         | 40   | 30            |
//! | unclassified     | 30   |               |
//! | residential      | 30   |               |
//! | living_street    | 10   |               |
//! | service          | 15   |               |
//!
//! `maxspeed` overrides the class speed when it is a number (km/h) or a number with an
//! `mph` suffix; zone values (`FI:urban`, `RU:rural`, `walk`, `none`, …) keep the class
//! default. Ways tagged `access`, `motor_vehicle` or `motorcar` = `no`/`private` are not
//! driven (the most specific tag present wins, so `access=no` + `motorcar=yes` is
//! driven). `oneway=yes|1|true` is one-way along the way, `-1` against it, `no` both;
//! roundabouts (`junction=roundabout|circular`) and motorways are one-way unless
//! `oneway=no`. Turn restrictions are not read.

/// Default speed of a `highway` class, km/h; `None` for classes a car does not drive.
pub fn class_speed_kmh(highway: &str) -> Option<f64> {
    let speed = match highway {
        "motorway" => 100.0,
        "motorway_link" => 70.0,
        "trunk" => 80.0,
        "trunk_link" => 60.0,
        "primary" => 60.0,
        "primary_link" => 50.0,
        "secondary" => 50.0,
        "secondary_link" => 40.0,
        "tertiary" => 40.0,
        "tertiary_link" => 30.0,
        "unclassified" | "residential" => 30.0,
        "living_street" => 10.0,
        "service" => 15.0,
        _ => return None,
    };
    Some(speed)
}

/// Directions a way may be driven in, relative to the order of its nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Both,
    Forward,
    Backward,
}

/// What the profile says about a drivable way.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WaySpec {
    pub speed_kmh: f64,
    pub direction: Direction,
}

/// The car profile applied to one way's tags; `None` when a car may not drive it.
pub fn car<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<WaySpec> {
    let mut t = Tags::default();
    for (k, v) in tags {
        t.set(k, v);
    }
    let class = class_speed_kmh(t.highway?)?;
    if t.area == Some("yes") || !t.access_allows() {
        return None;
    }
    let speed_kmh = t.maxspeed.and_then(parse_maxspeed).unwrap_or(class);
    Some(WaySpec {
        speed_kmh,
        direction: t.direction()?,
    })
}

/// The tags the profile reads.
#[derive(Default)]
struct Tags<'a> {
    highway: Option<&'a str>,
    maxspeed: Option<&'a str>,
    oneway: Option<&'a str>,
    junction: Option<&'a str>,
    area: Option<&'a str>,
    access: Option<&'a str>,
    motor_vehicle: Option<&'a str>,
    motorcar: Option<&'a str>,
}

impl<'a> Tags<'a> {
    fn set(&mut self, k: &'a str, v: &'a str) {
        let slot = match k {
            "highway" => &mut self.highway,
            "maxspeed" => &mut self.maxspeed,
            "oneway" => &mut self.oneway,
            "junction" => &mut self.junction,
            "area" => &mut self.area,
            "access" => &mut self.access,
            "motor_vehicle" => &mut self.motor_vehicle,
            "motorcar" => &mut self.motorcar,
            _ => return,
        };
        *slot = Some(v);
    }

    /// The most specific access tag present decides.
    fn access_allows(&self) -> bool {
        let decisive = self.motorcar.or(self.motor_vehicle).or(self.access);
        !matches!(decisive, Some("no" | "private"))
    }

    /// `None` for `oneway=reversible` (direction changes by time of day: not driven).
    fn direction(&self) -> Option<Direction> {
        let implied = matches!(self.junction, Some("roundabout" | "circular"))
            || self.highway == Some("motorway");
        match self.oneway {
            Some("yes" | "1" | "true") => Some(Direction::Forward),
            Some("-1" | "reverse") => Some(Direction::Backward),
            Some("no" | "false" | "0") => Some(Direction::Both),
            Some("reversible" | "alternating") => None,
            _ if implied => Some(Direction::Forward),
            _ => Some(Direction::Both),
        }
    }
}

/// A `maxspeed` value in km/h: `50`, `50 km/h`, `30 mph`; `None` for zone values.
pub fn parse_maxspeed(value: &str) -> Option<f64> {
    let v = value.trim();
    let (number, factor) = match v.strip_suffix("mph") {
        Some(n) => (n, 1.609_344),
        None => (
            v.strip_suffix("km/h")
                .or_else(|| v.strip_suffix("kmh"))
                .unwrap_or(v),
            1.0,
        ),
    };
    let kmh = number.trim().parse::<f64>().ok()? * factor;
    (kmh.is_finite() && kmh > 0.0 && kmh <= 200.0).then_some(kmh)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(tags: &[(&'static str, &'static str)]) -> Option<WaySpec> {
        car(tags.iter().copied())
    }

    #[test]
    fn classes_and_links() {
        assert_eq!(spec(&[("highway", "primary")]).unwrap().speed_kmh, 60.0);
        assert_eq!(
            spec(&[("highway", "primary_link")]).unwrap().speed_kmh,
            50.0
        );
        assert_eq!(
            spec(&[("highway", "living_street")]).unwrap().speed_kmh,
            10.0
        );
        assert!(spec(&[("highway", "footway")]).is_none());
        assert!(spec(&[("highway", "cycleway")]).is_none());
        assert!(spec(&[("building", "yes")]).is_none());
    }

    #[test]
    fn maxspeed_forms() {
        assert_eq!(parse_maxspeed("50"), Some(50.0));
        assert_eq!(parse_maxspeed("40 km/h"), Some(40.0));
        let mph = parse_maxspeed("30 mph").unwrap();
        assert!((mph - 48.28).abs() < 0.01, "{mph}");
        assert_eq!(parse_maxspeed("FI:urban"), None);
        assert_eq!(parse_maxspeed("none"), None);
        assert_eq!(parse_maxspeed("0"), None);
        let zone = spec(&[("highway", "residential"), ("maxspeed", "FI:urban")]);
        assert_eq!(zone.unwrap().speed_kmh, 30.0);
        let set = spec(&[("highway", "residential"), ("maxspeed", "40")]);
        assert_eq!(set.unwrap().speed_kmh, 40.0);
    }

    #[test]
    fn oneway_forms() {
        let d = |tags: &[(&'static str, &'static str)]| spec(tags).map(|s| s.direction);
        assert_eq!(d(&[("highway", "residential")]), Some(Direction::Both));
        for v in ["yes", "1", "true"] {
            let got = d(&[("highway", "residential"), ("oneway", v)]);
            assert_eq!(got, Some(Direction::Forward), "{v}");
        }
        let rev = d(&[("highway", "residential"), ("oneway", "-1")]);
        assert_eq!(rev, Some(Direction::Backward));
        let round = d(&[("highway", "primary"), ("junction", "roundabout")]);
        assert_eq!(round, Some(Direction::Forward));
        assert_eq!(d(&[("highway", "motorway")]), Some(Direction::Forward));
        let two_way = d(&[("highway", "motorway"), ("oneway", "no")]);
        assert_eq!(two_way, Some(Direction::Both));
        assert_eq!(d(&[("highway", "primary"), ("oneway", "reversible")]), None);
    }

    #[test]
    fn access() {
        assert!(spec(&[("highway", "service"), ("access", "private")]).is_none());
        assert!(spec(&[("highway", "service"), ("motor_vehicle", "no")]).is_none());
        assert!(spec(&[("highway", "service"), ("motorcar", "no")]).is_none());
        let allowed = [
            ("highway", "service"),
            ("access", "no"),
            ("motorcar", "yes"),
        ];
        assert!(spec(&allowed).is_some());
        assert!(spec(&[("highway", "service"), ("access", "destination")]).is_some());
    }
}
