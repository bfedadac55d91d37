using static TorchSharp.torch;

namespace GpuNtk.Data;

/// <summary>
/// Reads the training and test splits of an <see cref="IdxDataset"/> from a folder into <see cref="ImageSet"/>s of
/// <c>[N, 1, 28, 28]</c>, checking each pair: images of rank 3 and 28×28, uint8 labels of rank 1 in 0–9, equal counts.
/// </summary>
public static class IdxImageReader
{
    public static (ImageSet Train, ImageSet Test) Read(IdxDataset set, string directory)
    {
        var train = ReadSplit(set, directory, set.TrainImages, set.TrainLabels);
        try
        {
            return (train, ReadSplit(set, directory, set.TestImages, set.TestLabels));
        }
        catch
        {
            train.Dispose();
            throw;
        }
    }

    private static ImageSet ReadSplit(IdxDataset set, string directory, IdxFileSource imagesFile, IdxFileSource labelsFile)
    {
        var imagesPath = IdxDataset.Find(directory, imagesFile) ?? throw Missing(set, directory, imagesFile);
        var labelsPath = IdxDataset.Find(directory, labelsFile) ?? throw Missing(set, directory, labelsFile);
        using var scope = NewDisposeScope();
        var images = IdxFile.Read(imagesPath, set.Remedy);
        if (images.dtype != ScalarType.Byte || images.dim() != 3 || images.shape[1] != IdxDataset.ImageSize || images.shape[2] != IdxDataset.ImageSize)
            throw new InvalidDataException($"{imagesPath} holds {images.dtype} [{string.Join(", ", images.shape)}], not uint8 images [N, 28, 28]; {set.Remedy}");
        var labels = IdxFile.Read(labelsPath, set.Remedy);
        if (labels.dtype != ScalarType.Byte || labels.dim() != 1)
            throw new InvalidDataException($"{labelsPath} holds {labels.dtype} [{string.Join(", ", labels.shape)}], not uint8 labels [N]; {set.Remedy}");
        if (labels.shape[0] != images.shape[0])
            throw new InvalidDataException($"{labelsPath} has {labels.shape[0]:N0} labels but {imagesPath} has {images.shape[0]:N0} images; {set.Remedy}");
        if (labels.numel() > 0 && labels.max().item<byte>() >= set.ClassNames.Count)
            throw new InvalidDataException($"{labelsPath} has a label {labels.max().item<byte>()}, outside 0–{set.ClassNames.Count - 1}: the file is corrupt; {set.Remedy}");
        var result = new ImageSet(images.unsqueeze(1).MoveToOuterDisposeScope(), labels.to(ScalarType.Int64).MoveToOuterDisposeScope());
        return result;
    }

    private static FileNotFoundException Missing(IdxDataset set, string directory, IdxFileSource file) =>
        new($"{Path.Combine(directory, file.Name)} is missing (nor is {file.PlainName} there); {set.Remedy}", Path.Combine(directory, file.Name));
}
