// Placeholder until issue 4 lands the shim; keeps the AOT publish path exercised from the first commit.
Console.Out.Write("containerd-shim-cc-v2: not yet implemented\n");
return 1;
