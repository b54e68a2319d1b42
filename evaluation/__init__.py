"""Quality evaluations of newsbot's matcher and clusterer on hand-labelled real stories."""
