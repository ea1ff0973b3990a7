"""Where the nodes of a folded graph go in TikZ: columns, and plates that enclose only their body.

A plate is a rectangle fitted around its nodes, so the layout keeps every other
node out of it.  :func:`plate_layout` places the nodes in columns first:

* a column is a node's distance from the sources, balanced: a node moves
  towards the side with more arrows (a source next to its reader, a loss
  next to what it reads), as far as the arrows into and out of it allow;
* what feeds a plate and is computed (``h_0``) goes before the plate, what
  reads it or has nothing to do with it after, so the plate's columns hold
  only its body and the sources it reads (the parameters).

Then each region, the whole picture or a plate, from top to bottom: the
sources read by a plate inside it, in a band above the plate (or below it, if
what they feed sits low in the plate); the plates inside it, side by side where
their columns do not overlap, one above the other where they do; the sources
that feed the lower part, in a band below; and, inside a plate, a lane under
the body for each arrow from a family's box back to the step that reads the
previous member, and a row for the plate's range.  A node in a column no plate
spans sits at the height of its neighbours, on a grid of half rows.

An arrow across several columns passes through a waypoint in each, which takes
a place in its column like a node, so the arrow bends around the nodes.  The
order within a column comes from sweeps of the barycentre heuristic (each node
at the mean height of its neighbours), the ends of a recurrence arrow last, so
the arrow leaves and enters from below; of the sweeps, the layout whose arrows
cross each other and the nodes least is kept, then improved by exchanging
neighbours in a column and levelling a node with a neighbour while that helps.
Everything iterates in the graph's order: the layout is the same on every run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import networkx as nx

from .figures import _visible_width as _width

__all__ = ["plate_layout", "PlateLayout"]

_DX, _DY = 1.5, 1.1   # column and row pitch, cm
_GAP = 1.5            # from a band's row to the nearest row of the plate it is next to
_EDGE = 0.55          # from a plate's top row to its top edge
_LANE = 0.6           # from the body's lowest row to a recurrence lane, and between lanes
_LABEL = 0.75         # from the lowest lane (or row) of a plate to the foot of its range
_WIDE = 0.9           # added between two columns where a plate's edge passes
_SWEEPS = 10


@dataclass
class PlateLayout:
    """Positions for a TikZ figure of a folded graph.

    Attributes
    ----------
    pos : dict
        Node to (x, y) in centimetres.
    routes : dict
        An edge to the points its arrow passes through: a recurrence's two corners in the
        lane under the body, a long arrow's one point in each column it crosses.
    extent : dict
        A plate's key to points its rectangle reaches beyond its nodes: its recurrence
        lanes and the row of its range.
    label_at : dict
        An arrow with a label (a recurrence, an arrow across a plate's edge) to where its
        label goes: (k, f), on its k-th segment (0 from its start to its route's first
        point), the fraction f along it.
    """

    pos: dict
    routes: dict = field(default_factory=dict)
    extent: dict = field(default_factory=dict)
    label_at: dict = field(default_factory=dict)


def plate_layout(g, labels=None, plate_labels=None):
    """Lay out a folded graph (:func:`~symbackprop.derivation.folded.folded_graph`).

    Parameters
    ----------
    g : networkx.DiGraph
    labels : dict, optional
        Node to its LaTeX label: a wide label widens the columns.
    plate_labels : dict, optional
        A plate's key to the LaTeX of its range: a plate is at least as wide.

    Returns
    -------
    PlateLayout

    Examples
    --------
    >>> import symbackprop as sbp
    >>> from symbackprop.derivation.folded import folded_graph
    >>> layout = plate_layout(folded_graph(sbp.load("examples/loops/bptt.sbp")))
    >>> layout.pos["h[0]"][0] < layout.pos["h"][0] < layout.pos["o"][0] < layout.pos["L"][0]
    True
    >>> (start, _), (end, _) = layout.routes["h", "h[t]#2"]
    >>> start == layout.pos["h"][0] and end == layout.pos["h[t]#2"][0]
    True
    >>> layout.label_at["h", "h[t]#2"]
    (1, 0.5)
    """
    return _Layout(g, labels or {}, plate_labels or {}).run()


class _Layout:
    def __init__(self, g, labels, plate_labels):
        self.g, self.plates, self.plate_labels = g, g.graph["plates"], plate_labels
        self.back = [(u, v) for u, v, kind in g.edges(data="kind") if kind == "recurrence"]
        self.flow = _acyclic(g, self.back)
        self.children = {key: [k for k, p in self.plates.items() if p["parent"] == key]
                         for key in (None, *self.plates)}
        self.own = {key: [n for n in g if g.nodes[n]["plate"] == key]
                    for key in (None, *self.plates)}
        self.inside = {key: [n for n in g if key in _path(self.plates, g.nodes[n]["plate"])]
                       for key in self.plates}
        self.column = self._columns()
        self.span = {key: (min(self.column[n] for n in nodes), max(self.column[n] for n in nodes))
                     for key, nodes in self.inside.items()}
        self.lanes = {key: _lanes([self._cols(u, v) for u, v in self.back
                                   if g.nodes[u]["plate"] == key]) for key in self.plates}
        self.layered = self._waypoints()
        ends = {n for edge in self.back for n in edge}
        self.start = {n: (n in ends, 0.0, i) for i, n in enumerate(self.layered)}
        self.half = {n: 0.05 if n not in g else 0.25 if g.nodes[n]["kind"] == "operator" else
                     max(0.3, 0.08 * _width(labels.get(n, "")) + 0.15) for n in self.layered}
        widest = max((_width(text) for text in labels.values()), default=0)
        self.dx = max(_DX, 0.2 * widest + 0.7)

    def _cols(self, u, v):
        return tuple(sorted((self.column[u], self.column[v])))

    # columns

    def _columns(self):
        """Balanced columns in which a plate's columns hold only its body and the sources it
        reads: what feeds it and is computed goes before it, everything else after."""
        constrained = nx.DiGraph(self.flow)
        for _ in range(2 * len(self.plates) + 1):
            column = _balanced(self.flow, constrained)
            moved = False
            for key, p in self.plates.items():
                inside = set(self.inside[key])
                lo, hi = min(column[n] for n in inside), max(column[n] for n in inside)
                after = set().union(*(nx.descendants(constrained, n) for n in inside))
                before = set().union(*(nx.ancestors(constrained, n) for n in inside))
                for m in self.own[p["parent"]]:
                    if not lo <= column[m] <= hi or (m in before and m in after):
                        continue
                    feeds = any(s in inside for s in self.flow.successors(m))
                    if feeds and self.flow.in_degree(m) == 0:
                        continue  # a source the plate reads: in a band above or below it
                    constrained.add_edges_from((m, n) if m in before else (n, m)
                                               for n in self.inside[key])
                    moved = True
            if not moved:
                break
        return column

    def _waypoints(self):
        """The flow with an arrow across several columns replaced by a chain through a
        waypoint in each column, in the plate the column belongs to on the arrow's way: the
        waypoints take a place in their column like nodes, so the arrow bends around the
        nodes instead of crossing them."""
        layered = nx.DiGraph()
        layered.add_nodes_from(self.flow)
        self.via = {}
        for u, v in self.flow.edges:
            path = [u]
            ways = set(_path(self.plates, self.g.nodes[u]["plate"])) | set(
                _path(self.plates, self.g.nodes[v]["plate"]))
            for c in range(self.column[u] + 1, self.column[v]):
                here = [k for k in ways if self.span[k][0] <= c <= self.span[k][1]]
                key = max(here, key=lambda k: len(_path(self.plates, k)), default=None)
                if any(self.span[k][0] <= c <= self.span[k][1] for k in self.children[key]):
                    continue  # a plate the arrow does not enter: it crosses the band
                path.append(("via", u, v, c))
                self.column[path[-1]] = c
                self.own[key].append(path[-1])
            path.append(v)
            layered.add_edges_from(zip(path, path[1:]))
            if len(path) > 2:
                self.via[u, v] = path[1:-1]
        return layered

    def _x(self):
        """Each column's x: wider where a plate's edge passes between two columns, so a
        label on an arrow across the edge stays clear of it."""
        edges = {c for lo, hi in self.span.values() for c in (lo, hi + 1)}
        x, at = {}, 0.0
        for c in range(max(self.column.values(), default=0) + 1):
            at += (self.dx + (_WIDE if c in edges else 0.0)) if c else 0.0
            x[c] = round(at, 3)
        return x

    # heights

    def run(self):
        cost = self._sweeps()
        for _ in range(_SWEEPS):
            cost, swapped = self._exchanged(cost)
            cost, levelled = self._levelled(cost)
            if not (swapped or levelled):
                break
        layout = self._geometry(self._region(None, 0.0))
        return PlateLayout({n: layout.pos[n] for n in self.g}, layout.routes, layout.extent,
                           self._label_at(layout.pos, layout.routes))

    def _sweeps(self):
        """Barycentre sweeps from the graph's order and from its reverse (their ties break
        differently); the sweep whose arrows cross each other and the nodes least is kept."""
        best = None
        for sign in (1, -1):
            self.score = {n: (end, 0.0, sign * i) for n, (end, _, i) in self.start.items()}
            self.below, self.want = set(), {}
            for _ in range(_SWEEPS):
                y = self._region(None, 0.0)
                cost = self._cost(y)
                if best is None or cost < best[0]:
                    best = (cost, dict(self.score), set(self.below), dict(self.want))
                self._reorder(y)
        cost, self.score, self.below, self.want = best
        return cost

    def _exchanged(self, cost):
        """Two neighbours in a column exchanged wherever that lowers the cost."""
        improved = False
        for a, b in self._neighbours():
            self.score[a], self.score[b] = self.score[b], self.score[a]
            trial = self._cost(self._region(None, 0.0))
            if trial < cost:
                cost, improved = trial, True
            else:
                self.score[a], self.score[b] = self.score[b], self.score[a]
        return cost, improved

    def _levelled(self, cost):
        """A node (and the chain behind it) levelled with a neighbour wherever that lowers
        the cost: an arrow straightens."""
        improved, y = False, self._region(None, 0.0)
        for n in self.layered:
            for m in self._near(n):
                if abs(y[m] - y[n]) < 1e-9:
                    continue
                kept = dict(self.want)
                self.want.update(dict.fromkeys(self._chain(n, m), y[m]))
                trial = self._cost(self._region(None, 0.0))
                if trial < cost:
                    cost, improved, y = trial, True, self._region(None, 0.0)
                else:
                    self.want = kept
        return cost, improved

    def _near(self, n):
        return [*self.layered.predecessors(n), *self.layered.successors(n)]

    def _chain(self, n, m):
        """`n` and the chain of nodes behind it, away from `m`, that have no other neighbour:
        levelled with `m` together, a chain of arrows straightens at once."""
        chain, behind = [n], m
        while True:
            others = [k for k in self._near(chain[-1]) if k != behind]
            if len(others) != 1 or len(self._near(others[0])) > 2 or others[0] in chain:
                return chain
            behind = chain[-1]
            chain.append(others[0])

    def _cost(self, y):
        return _crossings(self._geometry(y), self.layered, self.back, self.half)

    def _neighbours(self):
        """Each pair of nodes next to each other in a column, in a stable order."""
        for key in (None, *self.plates):
            for nodes in self._groups(key).values():
                yield from zip(nodes, nodes[1:])

    def _geometry(self, y):
        x = self._x()
        pos = {n: (x[self.column[n]], -round(y[n], 3)) for n in self.layered}
        extent = {}
        for key in self.plates:
            xs = [pos[n][0] for n in self.inside[key]]
            low = -round(self._bottom(key, y), 3)
            wide = 0.2 * _width(self.plate_labels.get(key, "")) + 0.3  # the range's label
            extent[key] = [(round(min(min(xs), max(xs) + 0.5 - wide), 3), low), (max(xs), low)]
        routes = {edge: [pos[w] for w in path] for edge, path in self.via.items()}
        for u, v in self.back:
            routes[u, v] = self._recurrence(u, v, pos, y)
        return PlateLayout(pos, routes, extent)

    def _recurrence(self, u, v, pos, y):
        """The corners of a recurrence arrow: down from its box to its lane, along the lane,
        up into the reader; beside a node that has another node below it in its column."""
        key = self.g.nodes[u]["plate"]
        lane = self.lanes[key][self._cols(u, v)]
        level = -round(self._bottom(key, y, lanes=False) + _LANE * (lane + 1), 3)
        side = round((self.dx + _WIDE) / 2 - 0.15, 3)

        def blocked(n):
            return any(pos[m][0] == pos[n][0] and level < pos[m][1] < pos[n][1]
                       for m in pos if m != n)

        (xu, yu), (xv, yv) = pos[u], pos[v]
        start = [(xu + side, yu), (xu + side, level)] if blocked(u) else [(xu, level)]
        end = [(xv - side, level), (xv - side, yv)] if blocked(v) else [(xv, level)]
        return [(round(a, 3), round(b, 3)) for a, b in start + end]

    def _label_at(self, pos, routes):
        """Where an arrow's label goes, as (segment, fraction along it): a recurrence's on
        its lane; an arrow across a plate's edge in the gap between the edge and the next
        column outside."""
        out = {}
        for u, v in self.back:
            ups = [i for i, (p, q) in enumerate(zip(routes[u, v], routes[u, v][1:]))
                   if p[1] == q[1]]
            out[u, v] = (ups[0] + 1, 0.5)
        for u, v, reads in self.g.edges(data="reads"):
            pu, pv = (_path(self.plates, self.g.nodes[n]["plate"]) for n in (u, v))
            if not reads or pu == pv or (u, v) in self.back:
                continue
            common = next((i for i, (a, b) in enumerate(zip(pu, pv)) if a != b),
                          min(len(pu), len(pv)))
            # the plate the arrow enters (or else the one it leaves), and the node beyond
            plate, inside, outside = (pv[common], v, u) if len(pv) > common else \
                (pu[common], u, v)
            toward = 1 if pos[inside][0] > pos[outside][0] else -1
            x = min(pos[n][0] * toward for n in self.inside[plate]) * toward
            rim = max(self.half[n] for n in self.inside[plate] if pos[n][0] == x) + 0.18
            beyond = round(x - toward * (self.dx + _WIDE), 3)  # the column outside the edge
            near = self.half[outside] if pos[outside][0] == beyond else 0.05
            middle = (beyond + toward * near + x - toward * rim) / 2
            points = [pos[u], *routes.get((u, v), []), pos[v]]
            for segment, ((x0, _), (x1, _)) in enumerate(zip(points, points[1:])):
                if min(x0, x1) <= middle <= max(x0, x1) and x0 != x1:
                    out[u, v] = (segment, round((middle - x0) / (x1 - x0), 3))
                    break
        return out

    def _region(self, key, top):
        """The height (cm, downwards) of every node inside a region whose top is at `top`."""
        y, groups = {}, self._groups(key)
        above = max((len(v) for (band, _), v in groups.items() if band == "above"), default=0)
        for (band, _), nodes in groups.items():
            if band == "above":
                y.update({n: top + (above - len(nodes) + i) * _DY for i, n in enumerate(nodes)})
        row = top + ((above - 1) * _DY + _GAP if above else 0.0)
        bottom = None
        for lane in _pack([(self.span[c], c) for c in self.children[key]]):
            for c in lane:
                y.update(self._region(c, row))
            bottom = max(self._bottom(c, y) for c in lane)
            row = bottom + _GAP - _EDGE
        if bottom is None:
            tallest = max((len(v) for v in groups.values()), default=1)
            lo, hi = top, top + (tallest - 1) * _DY
        else:
            rows = [y[n] for c in self.children[key] for n in self.inside[c]]
            lo, hi = min(rows), max(rows)
        for (band, _), nodes in groups.items():
            if band == "middle":
                y.update(self._placed(nodes, lo, hi))
            elif band == "below":
                y.update({n: bottom + _GAP - _EDGE + i * _DY for i, n in enumerate(nodes)})
        return y

    def _placed(self, nodes, lo, hi):
        """Heights for a column's nodes between `lo` and `hi`: each near its neighbours'
        mean height, on half rows, a row apart; centred on the first sweep."""
        centre = (lo + hi) / 2
        want = [self.want.get(n, centre + (i - (len(nodes) - 1) / 2) * _DY)
                for i, n in enumerate(nodes)]
        hi = max(hi, lo + (len(nodes) - 1) * _DY)
        at = [min(max(lo + round((w - lo) / (_DY / 2)) * _DY / 2, lo), hi) for w in want]
        for i in range(1, len(at)):
            at[i] = max(at[i], at[i - 1] + _DY)
        for i in range(len(at) - 1, -1, -1):
            at[i] = min(at[i], hi if i == len(at) - 1 else at[i + 1] - _DY)
        return dict(zip(nodes, at))

    def _groups(self, key):
        """A region's own nodes by band and column, each group in the order of its scores."""
        covered = {col for c in self.children[key]
                   for col in range(self.span[c][0], self.span[c][1] + 1)}
        groups = {}
        for n in self.own[key]:
            band = "middle" if self.column[n] not in covered else \
                "below" if n in self.below else "above"
            groups.setdefault((band, self.column[n]), []).append(n)
        for nodes in groups.values():
            nodes.sort(key=self.score.__getitem__)
        return groups

    def _bottom(self, key, y, lanes=True):
        """How far down a plate reaches in `y`: its lowest row, then its recurrence lanes
        and the row of its range."""
        low = max([y[n] for n in self.own[key] if n in y] +
                  [self._bottom(c, y) for c in self.children[key]])
        if not lanes:
            return low
        return low + _LANE * (max(self.lanes[key].values(), default=-1) + 1) + _LABEL

    def _reorder(self, y):
        """Each node's wanted height and score from its neighbours' heights (the
        barycentre); a source next to a plate goes below it if what it feeds sits low."""
        for n in self.layered:
            near = [y[m] for m in (*self.layered.predecessors(n), *self.layered.successors(n))]
            self.want[n] = mean = sum(near) / len(near) if near else y[n]
            self.score[n] = (self.score[n][0], mean, self.score[n][2])
        self.below = set()
        for key in (None, *self.plates):
            for c in self.children[key]:
                rows = [y[n] for n in self.inside[c]]
                centre = (min(rows) + max(rows)) / 2
                lo, hi = self.span[c]
                self.below |= {n for n in self.own[key] if lo <= self.column[n] <= hi
                               and self.score[n][1] > centre + 1e-9}


def _crossings(layout, layered, back, half):
    """How many pairs of arrow segments cross, and (three times over) how many segments
    pass through a node that is not one of their ends; between layouts that tie, the one
    with fewer slanting segments."""
    pos, segments = layout.pos, []
    for u, v in layered.edges:
        segments.append((pos[u], pos[v], {u, v}))
    for u, v in back:
        points = [pos[u], *layout.routes[u, v], pos[v]]
        segments += [(p, q, {u} if i == 0 else {v} if i == len(points) - 2 else set())
                     for i, (p, q) in enumerate(zip(points, points[1:]))]
    boxes = [(min(p[0], q[0]), max(p[0], q[0]), min(p[1], q[1]), max(p[1], q[1]))
             for p, q, _ in segments]
    count = 0
    for i, (p, q, ends) in enumerate(segments):
        x0, x1, y0, y1 = boxes[i]
        for j in range(i + 1, len(segments)):
            a0, a1, b0, b1 = boxes[j]
            if a0 > x1 or a1 < x0 or b0 > y1 or b1 < y0:
                continue  # apart: the common case, decided without arithmetic
            r, s, others = segments[j]
            if not ends & others and _cross(p, q, r, s):
                count += 1
        for n, at in pos.items():
            if x0 - half[n] < at[0] < x1 + half[n] and y0 - 0.35 < at[1] < y1 + 0.35 and \
                    n not in ends and _through(p, q, at, half[n]):
                count += 3
        count += 0.01 * (abs(p[1] - q[1]) > 1e-9)
    return count


def _cross(p, q, r, s):
    """Whether the segments pq and rs cross (not merely touch)."""
    def side(a, b, c):
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    d1, d2, d3, d4 = side(p, q, r), side(p, q, s), side(r, s, p), side(r, s, q)
    return d1 * d2 < 0 and d3 * d4 < 0


def _through(p, q, at, half):
    """Whether the segment pq passes through the box `half` wide either side of `at`
    (Liang and Barsky's clipping)."""
    (x0, y0), (x1, y1) = p, q
    dx, dy = x1 - x0, y1 - y0
    lo, hi = 0.0, 1.0
    for d, start, low, high in ((dx, x0, at[0] - half, at[0] + half),
                                (dy, y0, at[1] - 0.35, at[1] + 0.35)):
        if d == 0:
            if not low < start < high:
                return False
            continue
        t0, t1 = sorted(((low - start) / d, (high - start) / d))
        lo, hi = max(lo, t0), min(hi, t1)
        if lo >= hi:
            return False
    return True


def _path(plates, key):
    """The plates around a node whose innermost plate is `key`, outermost first."""
    out = []
    while key is not None:
        out.append(key)
        key = plates[key]["parent"]
    return out[::-1]


def _acyclic(g, back):
    """`g` without its recurrence arrows (and, should a cycle remain, without the arrows
    that close it), in `g`'s order."""
    flow = nx.DiGraph()
    flow.add_nodes_from(g)
    flow.add_edges_from((u, v) for u, v in g.edges if (u, v) not in set(back))
    while not nx.is_directed_acyclic_graph(flow):
        flow.remove_edge(*nx.find_cycle(flow)[-1][:2])
    return flow


def _balanced(flow, constrained):
    """Columns: each node's longest distance from a source in `constrained`, then, sweep
    by sweep, each node moved as far as `constrained` allows towards the side where more of
    its arrows in `flow` go (ties: towards its readers)."""
    order = list(nx.topological_sort(constrained))
    column = {}
    for n in order:
        column[n] = max((column[p] + 1 for p in constrained.predecessors(n)), default=0)
    for _ in range(len(order)):
        moved = False
        for n in reversed(order):
            lo = max((column[p] + 1 for p in constrained.predecessors(n)), default=-math.inf)
            hi = min((column[s] - 1 for s in constrained.successors(n)), default=math.inf)
            target = hi if flow.out_degree(n) >= flow.in_degree(n) else lo
            if math.isfinite(target) and target != column[n]:
                column[n], moved = target, True
        if not moved:
            break
    first = min(column.values(), default=0)
    return {n: column[n] - first for n in flow}


def _pack(spans):
    """Plates into lanes: side by side where their columns do not overlap."""
    lanes, ends = [], []
    for (lo, hi), key in sorted(spans, key=lambda s: s[0]):
        for i, end in enumerate(ends):
            if end < lo:
                lanes[i].append(key)
                ends[i] = hi
                break
        else:
            lanes.append([key])
            ends.append(hi)
    return lanes


def _lanes(spans):
    """A lane for each recurrence arrow's column span, shared where spans do not overlap."""
    out, ends = {}, []
    for lo, hi in sorted(set(spans)):
        for i, end in enumerate(ends):
            if end < lo:
                ends[i] = hi
                out[lo, hi] = i
                break
        else:
            out[lo, hi] = len(ends)
            ends.append(hi)
    return out


