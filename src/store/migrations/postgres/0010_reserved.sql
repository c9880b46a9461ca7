-- Reserved for another branch's migration (the numbers must run without gaps); replaced by it at merge.
SELECT 1;
