//! Reachability between points of the world: observers, nodes and clients. A
//! partition or a flapping link is a cut between two endpoint groups; two points
//! are reachable unless an active cut separates them.

use crate::scenario::{Cut, Endpoint};

/// A concrete point: what a probe or a client request starts or ends at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point<'a> {
    Clients,
    Node {
        name: &'a str,
        site: &'a str,
    },
    Observer {
        name: &'a str,
        site: &'a str,
    },
    /// The controller: in its `policy.controller_site`, or in no site (then only a
    /// cut naming `controller` or `*` reaches it).
    Controller {
        site: Option<&'a str>,
    },
}

impl Endpoint {
    /// Whether the point belongs to this endpoint (`Rest` is resolved by the cut).
    fn matches(&self, p: Point) -> bool {
        match (self, p) {
            (Endpoint::Rest, _) => false,
            (Endpoint::Clients, Point::Clients) => true,
            (Endpoint::Site(s), Point::Node { site, .. } | Point::Observer { site, .. }) => s == site,
            (Endpoint::Site(s), Point::Controller { site: Some(site) }) => s == site,
            (Endpoint::Controller, Point::Controller { .. }) => true,
            (Endpoint::Node(n), Point::Node { name, .. }) => n == name,
            (Endpoint::Observer(n), Point::Observer { name, .. }) => n == name,
            _ => false,
        }
    }
}

impl Cut {
    fn side(&self, e: &Endpoint, other: &Endpoint, p: Point) -> bool {
        if *e == Endpoint::Rest {
            !other.matches(p)
        } else {
            e.matches(p)
        }
    }

    /// True when this cut separates x and y.
    pub fn separates(&self, x: Point, y: Point) -> bool {
        let (a, b) = (&self.a, &self.b);
        let ax = self.side(a, b, x);
        let by = self.side(b, a, y);
        let ay = self.side(a, b, y);
        let bx = self.side(b, a, x);
        // A point on both sides (e.g. a node in a cut between its site and itself)
        // is not separated from its own side.
        (ax && by && !(ay && bx)) || (ay && bx && !(ax && by))
    }
}

/// The active cuts, each with an id so a flap or a heal can remove exactly it.
#[derive(Clone, Debug, Default)]
pub struct Links {
    cuts: Vec<(u64, Cut)>,
    next_id: u64,
}

/// A bound on simultaneous cuts: scenarios with more are surely a bug.
pub const CUTS_MAX: usize = 1_024;

impl Links {
    pub fn cut(&mut self, cut: Cut) -> Result<u64, String> {
        if self.cuts.len() >= CUTS_MAX {
            return Err(format!("more than {CUTS_MAX} simultaneous partitions"));
        }
        self.next_id += 1;
        self.cuts.push((self.next_id, cut));
        Ok(self.next_id)
    }

    pub fn heal_id(&mut self, id: u64) {
        self.cuts.retain(|(i, _)| *i != id);
    }

    /// Heals every cut equal to `cut`, or all cuts when None.
    pub fn heal(&mut self, cut: Option<&Cut>) {
        self.cuts.retain(|(_, c)| cut.is_some_and(|want| want != c));
    }

    pub fn reachable(&self, x: Point, y: Point) -> bool {
        !self.cuts.iter().any(|(_, c)| c.separates(x, y))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_cut_from_the_rest_keeps_its_inside_connected() {
        let mut links = Links::default();
        let id = links.cut(Cut { a: Endpoint::Site("scl2".into()), b: Endpoint::Rest }).unwrap();
        let web = Point::Node { name: "scl2-web", site: "scl2" };
        let db = Point::Node { name: "scl2-db1", site: "scl2" };
        let local = Point::Observer { name: "ctl-scl2", site: "scl2" };
        let remote = Point::Observer { name: "ctl-phx1", site: "phx1" };
        assert!(links.reachable(web, db));
        assert!(links.reachable(local, web));
        assert!(!links.reachable(remote, web));
        assert!(!links.reachable(Point::Clients, web));
        assert!(links.reachable(Point::Clients, remote));
        links.heal_id(id);
        assert!(links.reachable(remote, web));
    }

    #[test]
    fn a_pairwise_cut_touches_only_its_pair() {
        let mut links = Links::default();
        links.cut(Cut { a: Endpoint::Observer("o1".into()), b: Endpoint::Node("n1".into()) }).unwrap();
        let n1 = Point::Node { name: "n1", site: "s" };
        let n2 = Point::Node { name: "n2", site: "s" };
        let o1 = Point::Observer { name: "o1", site: "s" };
        assert!(!links.reachable(o1, n1));
        assert!(!links.reachable(n1, o1));
        assert!(links.reachable(o1, n2));
        links.heal(None);
        assert!(links.reachable(o1, n1));
    }

    #[test]
    fn the_controller_is_cut_with_its_site() {
        let mut links = Links::default();
        links.cut(Cut { a: Endpoint::Site("b".into()), b: Endpoint::Rest }).unwrap();
        let in_a = Point::Controller { site: Some("a") };
        let in_b = Point::Controller { site: Some("b") };
        let node_b = Point::Node { name: "n", site: "b" };
        assert!(!links.reachable(in_a, node_b));
        assert!(links.reachable(in_b, node_b));
        links.heal(None);
        links.cut(Cut { a: Endpoint::Controller, b: Endpoint::Rest }).unwrap();
        assert!(!links.reachable(in_b, node_b));
        assert!(links.reachable(Point::Clients, node_b));
    }
}
