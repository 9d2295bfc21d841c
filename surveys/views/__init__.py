"""HTTP views: thin translations between requests and services/selectors."""
