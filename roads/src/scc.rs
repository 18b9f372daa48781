//! Strongly connected components (Tarjan's algorithm, iterative: no recursion, so a long
//! chain of road nodes cannot overflow the stack).

/// Component id of every node of the graph given as a CSR (`first_out` has one entry
/// more than there are nodes; `heads[first_out[v]..first_out[v + 1]]` are v's
/// successors). Ids are dense, from 0.
pub fn components(first_out: &[u32], heads: &[u32]) -> Vec<u32> {
    const UNSEEN: u32 = u32::MAX;
    let n = first_out.len().saturating_sub(1);
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut comp = vec![UNSEEN; n];
    let mut stack: Vec<u32> = Vec::new();
    // (node, next edge position to look at)
    let mut call: Vec<(u32, u32)> = Vec::new();
    let (mut next_index, mut next_comp) = (0u32, 0u32);
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        call.push((root as u32, first_out[root]));
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root as u32);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut pos)) = call.last_mut() {
            let vi = v as usize;
            if *pos < first_out[vi + 1] {
                let w = heads[*pos as usize] as usize;
                *pos += 1;
                if index[w] == UNSEEN {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w as u32);
                    on_stack[w] = true;
                    call.push((w as u32, first_out[w]));
                } else if on_stack[w] {
                    low[vi] = low[vi].min(index[w]);
                }
                continue;
            }
            call.pop();
            if let Some(&(parent, _)) = call.last() {
                let p = parent as usize;
                low[p] = low[p].min(low[vi]);
            }
            if low[vi] == index[vi] {
                while let Some(w) = stack.pop() {
                    on_stack[w as usize] = false;
                    comp[w as usize] = next_comp;
                    if w == v {
                        break;
                    }
                }
                next_comp += 1;
            }
        }
    }
    comp
}

/// The id of the component with the most nodes (`None` for an empty graph).
pub fn largest(comp: &[u32]) -> Option<u32> {
    let count = comp.iter().map(|&c| c as usize + 1).max()?;
    let mut sizes = vec![0usize; count];
    for &c in comp {
        sizes[c as usize] += 1;
    }
    (0..count)
        .max_by_key(|&c| (sizes[c], std::cmp::Reverse(c)))
        .and_then(|c| u32::try_from(c).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csr(n: usize, edges: &[(u32, u32)]) -> (Vec<u32>, Vec<u32>) {
        let mut sorted = edges.to_vec();
        sorted.sort();
        let mut first = vec![0u32; n + 1];
        for &(a, _) in &sorted {
            first[a as usize + 1] += 1;
        }
        for i in 0..n {
            first[i + 1] += first[i];
        }
        (first, sorted.iter().map(|e| e.1).collect())
    }

    #[test]
    fn two_cycles_and_a_bridge() {
        // 0→1→2→0 and 3→4→3, bridge 2→3 one way, 5 alone.
        let (f, h) = csr(6, &[(0, 1), (1, 2), (2, 0), (2, 3), (3, 4), (4, 3)]);
        let c = components(&f, &h);
        assert_eq!(c[0], c[1]);
        assert_eq!(c[1], c[2]);
        assert_eq!(c[3], c[4]);
        assert_ne!(c[0], c[3]);
        assert_ne!(c[5], c[0]);
        assert_ne!(c[5], c[3]);
        assert_eq!(largest(&c), Some(c[0]));
    }

    #[test]
    fn long_chain_does_not_recurse() {
        let n = 200_000u32;
        let mut edges: Vec<(u32, u32)> = (0..n - 1).map(|i| (i, i + 1)).collect();
        edges.push((n - 1, 0));
        let (f, h) = csr(n as usize, &edges);
        let c = components(&f, &h);
        assert!(c.iter().all(|&x| x == c[0]));
        assert_eq!(largest(&[]), None);
    }
}
