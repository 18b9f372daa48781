// Encoded polylines (Google's algorithm, precision 5): the `path` a route stop carries
// when the engine dispatches on a road network. One file for the console and the
// driver app (the engine serves it under both).

/** `s` as [{lat, lon}, ...]; malformed input ends the list early. */
export function decodePolyline(s) {
  const out = [];
  let i = 0, lat = 0, lon = 0;
  const next = () => {
    let shift = 0, result = 0, b;
    do {
      b = s.charCodeAt(i++) - 63;
      result |= (b & 0x1f) << shift;
      shift += 5;
    } while (b >= 0x20);
    return result & 1 ? ~(result >> 1) : result >> 1;
  };
  while (i < s.length) {
    lat += next();
    lon += next();
    if (!Number.isFinite(lat) || !Number.isFinite(lon) || i > s.length) break;
    out.push({ lat: lat / 1e5, lon: lon / 1e5 });
  }
  return out;
}
