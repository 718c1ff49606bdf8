"""Make a tf2onnx-converted ONNX file byte-reproducible, and fix its output order.

tf2onnx output is not byte-identical between runs: it numbers the names it creates from
process-global counters (`const_fold_opt__414`), its duplicate-merging pass keeps whichever
of several identical nodes it meets first (`reshape` vs `reshape_2`), and independent
branches come out in varying order.  The graph computed is the same every time.  This
rewrites it into a form that depends only on the graph's structure:

  * with --outputs, the graph outputs are put in the given order (the names must be exactly
    the model's outputs);
  * nodes are ordered by an iterative post-order depth-first walk from the graph outputs (in
    output order, each node's inputs in input order); nodes that no output depends on are
    dropped;
  * every node is renamed `<OpType>_<position>`, every intermediate tensor `<node>:<k>`,
    every initializer `c<k>` in order of first use, and initializers are stored in that
    order; value_info (shape hints) and doc strings are removed.  Graph input and output
    names are kept.

Nothing numeric changes.  The result passes onnx.checker.

usage: python onnx_canonical.py in.onnx out.onnx [--outputs name1,name2,...]
"""
import sys

import onnx


def topo_order(g):
    producer = {}
    for n in g.node:
        for o in n.output:
            if o:
                producer[o] = n
    order, seen = [], set()
    for out in g.output:
        if out.name not in producer:
            continue
        stack = [(producer[out.name], 0)]
        while stack:
            node, i = stack.pop()
            if id(node) in seen:
                continue
            if i < len(node.input):
                stack.append((node, i + 1))
                p = producer.get(node.input[i])
                if p is not None and id(p) not in seen:
                    stack.append((p, 0))
            else:
                seen.add(id(node))
                order.append(node)
    return order


def main(argv):
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--outputs"):
        sys.exit(__doc__)
    m = onnx.load(argv[0])
    g = m.graph
    for n in g.node:
        for a in n.attribute:
            if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                sys.exit(f"{argv[0]}: node {n.name} has a subgraph; not supported")

    if len(argv) == 4:
        order = argv[3].split(",")
        by_name = {o.name: o for o in g.output}
        if sorted(order) != sorted(by_name):
            sys.exit(f"{argv[0]}: outputs are {list(by_name)}, expected the set {order}")
        outs = [by_name[n] for n in order]
        del g.output[:]
        g.output.extend(outs)

    nodes = []
    for n in topo_order(g):
        c = onnx.NodeProto()
        c.CopyFrom(n)
        nodes.append(c)
    dropped = len(g.node) - len(nodes)

    keep = {i.name for i in g.input} | {o.name for o in g.output}
    init_names = {t.name for t in g.initializer}
    rename = {}
    n_const = 0
    for k, n in enumerate(nodes):
        n.name = f"{n.op_type}_{k}"
        n.doc_string = ""
        for i, x in enumerate(n.input):
            if x in init_names and x not in rename and x not in keep:
                rename[x] = f"c{n_const}"
                n_const += 1
            n.input[i] = rename.get(x, x)
        for i, x in enumerate(n.output):
            if x and x not in keep:
                rename[x] = f"{n.name}:{i}"
            n.output[i] = rename.get(x, x)

    used = [t for t in g.initializer if t.name in rename or t.name in keep]
    for t in used:
        t.name = rename.get(t.name, t.name)
        t.doc_string = ""
    used.sort(key=lambda t: int(t.name[1:]) if t.name.startswith("c") and t.name[1:].isdigit() else -1)
    inits = []
    for t in used:
        c = onnx.TensorProto()
        c.CopyFrom(t)
        inits.append(c)

    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    g.initializer.extend(inits)
    del g.value_info[:]
    g.doc_string = ""
    m.doc_string = ""

    onnx.checker.check_model(m)
    onnx.save(m, argv[1])
    print(f"canonical: {argv[1]} ({len(nodes)} nodes, {len(inits)} initializers, {dropped} unused nodes dropped)")


if __name__ == "__main__":
    main(sys.argv[1:])
