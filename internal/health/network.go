package health

import "sort"

// NetworkHeightRule is how the network height is chosen from the
// references; it is repeated in /status so operators need not read code.
const NetworkHeightRule = "highest reference height that is not an outlier; a reference is an outlier when it is more than " +
	"outlierBlocks above every other source (other references and the local node), and outliers are dropped from the top " +
	"while another reference remains; a single answering reference is used as is"

// networkHeight picks the network height from the references that answered.
// One reference far above everything else (a node on another network, a
// broken or lying peer) must not make every pod unready on its own, so the
// highest reference only counts when another source corroborates it: some
// other reference or the local node is within outlier blocks of it. The local
// node can corroborate but never raises the network height, and leaderheight
// is not used at all (it follows the node's own saved height while syncing).
// The cost: with two references, one caught up and one syncing, and a local
// node syncing too, the caught-up one is taken for an outlier.
func networkHeight(refs []int64, local int64, haveLocal bool, outlier int64) (height int64, dropped []int64, ok bool) {
	if len(refs) == 0 {
		return 0, nil, false
	}
	hs := append([]int64(nil), refs...)
	sort.Slice(hs, func(i, j int) bool { return hs[i] > hs[j] })
	for len(hs) > 1 {
		next := hs[1]
		if haveLocal && local > next {
			next = local
		}
		if hs[0]-next <= outlier {
			break
		}
		dropped = append(dropped, hs[0])
		hs = hs[1:]
	}
	return hs[0], dropped, true
}
